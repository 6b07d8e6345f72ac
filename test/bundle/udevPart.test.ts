/**
 * The bundle's udev part (build.mjs, src/udevMain.ts) is what every udev event parses under
 * --jitless: it must stay free of npm packages, and a udev event must not load the modules
 * that only the command line or a child process needs. Speed itself is measured by
 * `npm run bench`, never here.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VIRTIO_NET_DEVICE } from "../../support/fakeDevices.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeModulesDir, mainlineVariantsAlias } from "../../support/fixtures.js";
import { startFakeJournal, type FakeJournal } from "../../support/fakeJournal.js";
import { makeSimulatedHost, NVME } from "../../support/simulatedHost.js";
import { bundleInputs } from "../support/bundleInputs.js";
import { runBundle } from "../support/runBundle.js";
import { buildSimulatedBundle } from "../support/simulatedBundle.js";

const REPO = path.resolve(__dirname, "../..");
let sys: FakeSysfs;
let modulesDir: string;
let work: string;
let journal: FakeJournal;

beforeAll(async () => {
  sys = FakeSysfs.create();
  sys.addDriver("virtio_vfio_pci", "virtio_vfio_pci");
  sys.addDevice({ ...VIRTIO_NET_DEVICE, driver: "virtio_vfio_pci", vfioDev: true });
  modulesDir = makeModulesDir({ "modules.alias": mainlineVariantsAlias() });
  work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-udevpart-"));
  fs.mkdirSync(path.join(work, "config"));
  fs.writeFileSync(path.join(work, "config", "50-nic.conf"), "[Claim]\nAddress=0000:00:03.0\n");
  // Records, at exit, every module Node loaded.
  fs.writeFileSync(
    path.join(work, "modules.cjs"),
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(path.join(work, "loaded"))}, process.moduleLoadList.join("\\n")));\n`,
  );
  journal = await startFakeJournal();
});

afterAll(async () => {
  sys.remove();
  fs.rmSync(modulesDir, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  await journal.close();
});

describe("the bundle's udev part", () => {
  it("bundles no npm package (yargs, execa and their dependencies stay in the compiled-on-demand part)", async () => {
    const inputs = await bundleInputs("src/udevMain.ts");
    expect(inputs.some((input) => input.startsWith("src/udev/udevHelperProcess"))).toBe(true);
    expect(inputs.filter((input) => input.includes("node_modules"))).toEqual([]);
    expect(inputs.filter((input) => input.startsWith("src/cli/"))).toEqual([]);
  });

  it("takes Node's builtins as their module objects, not as per-importer copies with a getter per member", async () => {
    // @ts-expect-error build.mjs is plain JavaScript without declarations
    const { bundleWithUdevPart } = (await import("../../build.mjs")) as {
      bundleWithUdevPart: (options: { udevEntry: string; wholeEntry: string; extra?: object }) => Promise<string>;
    };
    const text = await bundleWithUdevPart({
      udevEntry: path.join(REPO, "src/udevMain.ts"),
      wholeEntry: path.join(REPO, "src/main.ts"),
      extra: { minify: false, absWorkingDir: REPO },
    });
    const udevPart = text.slice(0, text.lastIndexOf("\n//vfio-autobind-program:"));
    expect(udevPart).toMatch(/\bfs\d* = require\("node:fs"\)/);
    expect(udevPart).not.toMatch(/__toESM\(require\("node:/);
    // net only where it is first used (src/process/lazyNet.ts), and never through import(),
    // which would load Node's ES module loader too.
    expect(udevPart).not.toMatch(/\bnet\d* = require\("node:net"\)/);
    expect(udevPart).toMatch(/return require\("node:net"\)/);
    expect(udevPart).not.toMatch(/import\("node:net"\)/);
  });

  it("decides an already bound device's event without loading vm, child_process, crypto, perf_hooks, parseArgs, net or stream", async () => {
    const result = await runBundle(
      [
        "udev-event",
        "--sysfs-root",
        sys.root,
        "--modules-dir",
        modulesDir,
        "--state-dir",
        path.join(work, "state"),
        "--config-dir",
        path.join(work, "config"),
        "--kmsg",
        journal.kmsg,
        "--journal-socket",
        journal.socket,
      ],
      {
        node: ["--jitless", "-r", path.join(work, "modules.cjs")],
        env: {
          ACTION: "add",
          SUBSYSTEM: "pci",
          PCI_SLOT_NAME: "0000:00:03.0",
          DEVPATH: "/devices/pci0000:00/0000:00:03.0",
        },
      },
    );
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
    // In the kernel log (its stand-in), so no connection to journald's socket was needed.
    expect(journal.entries).toEqual([
      expect.objectContaining({ identifier: "vfio-autobind", priority: 6, transport: "kernel" }),
    ]);
    expect(journal.entries[0]?.message).toMatch(
      /^0000:00:03\.0: already bound to virtio_vfio_pci; group node \/dev\/vfio\/3 \[claim /,
    );
    const loaded = fs.readFileSync(path.join(work, "loaded"), "utf8").split("\n");
    expect(loaded).toContain("NativeModule fs"); // the list is real
    for (const module of [
      "vm",
      "child_process",
      "crypto",
      "perf_hooks",
      "internal/util/parse_args/parse_args",
      "net",
      "stream",
    ])
      expect(loaded, module).not.toContain(`NativeModule ${module}`);
    // Nor any of their parts beyond what Node loads for an empty script.
    const empty = path.join(work, "empty.js");
    fs.writeFileSync(empty, "");
    await runBundle([], { bundle: empty, node: ["--jitless", "-r", path.join(work, "modules.cjs")] });
    const floor = fs.readFileSync(path.join(work, "loaded"), "utf8").split("\n");
    expect(floor).toContain("NativeModule fs");
    expect(loaded.filter((m) => /\bnet\b|stream/.test(m) && !floor.includes(m))).toEqual([]);
  });

  it("binds a claimed device's event, loading net only for the device lock, and logs it to the kernel log", async () => {
    const host = makeSimulatedHost();
    const simulated = await buildSimulatedBundle();
    const configDir = path.join(work, "bind-config");
    fs.mkdirSync(configDir);
    fs.writeFileSync(path.join(configDir, "50-nvme.conf"), `[Claim]\nAddress=${NVME}\n`);
    const bindJournal = await startFakeJournal();
    try {
      const result = await runBundle(
        ["udev-event", ...host.rootArgs({ configDir, kmsg: bindJournal.kmsg, journalSocket: bindJournal.socket })],
        {
          bundle: simulated.file,
          node: ["--jitless", "-r", path.join(work, "modules.cjs")],
          env: { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: NVME, DEVPATH: `/devices/pci0000:00/${NVME}` },
        },
      );
      expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
      expect(host.kernel.boundDriver(NVME)).toBe("vfio-pci");
      expect(bindJournal.entries).toEqual([
        expect.objectContaining({ identifier: "vfio-autobind", priority: 6, transport: "kernel" }),
      ]);
      expect(bindJournal.entries[0]?.message).toMatch(/^0000:00:04\.0: bound to vfio-pci /);
      const loaded = fs.readFileSync(path.join(work, "loaded"), "utf8").split("\n");
      expect(loaded).toContain("NativeModule net"); // the lock's abstract socket
    } finally {
      await bindJournal.close();
      simulated.cleanup();
      host.cleanup();
    }
  });

  it("still runs every other command, from the compiled-on-demand part", async () => {
    const version = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).version as string;
    const result = await runBundle(["--version"], { node: ["--jitless", "-r", path.join(work, "modules.cjs")] });
    expect({ exitCode: result.exitCode, stdout: result.stdout.trim(), stderr: result.stderr }).toEqual({
      exitCode: 0,
      stdout: version,
      stderr: "",
    });
    expect(fs.readFileSync(path.join(work, "loaded"), "utf8").split("\n")).toContain("NativeModule vm");
  });
});
