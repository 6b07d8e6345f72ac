/**
 * The udev helper's bundle (dist/udev-helper.js) is what every udev event compiles under
 * --jitless: it must stay free of npm packages and of the command line, and a udev event
 * must not load the modules that only the command line or a child process needs. Speed
 * itself is measured by `npm run bench`, never here.
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
import { HELPER_BUNDLE, runBundle, runHelperBundle } from "../support/runBundle.js";
import { assertTestNode, RULE_FLAGS, TEST_NODES } from "../support/testNodes.js";
import { buildSimulatedHelperBundle, loadBuildBundle } from "../support/simulatedBundle.js";

const REPO = path.resolve(__dirname, "../..");
const EVENT_ENV = {
  ACTION: "add",
  SUBSYSTEM: "pci",
  PCI_SLOT_NAME: "0000:00:03.0",
  DEVPATH: "/devices/pci0000:00/0000:00:03.0",
};

/** One udev event for the claimed, already bound device, with its state in `stateDir`. */
const udevEvent = (stateDir: string, options: { node?: string[]; nodeBinary?: string; mdwe?: boolean } = {}) =>
  runHelperBundle(
    [
      "--sysfs-root",
      sys.root,
      "--modules-dir",
      modulesDir,
      "--state-dir",
      stateDir,
      "--config-dir",
      path.join(work, "config"),
      "--kmsg",
      journal.kmsg,
      "--journal-socket",
      journal.socket,
    ],
    { env: EVENT_ENV, ...options },
  );
let sys: FakeSysfs;
let modulesDir: string;
let work: string;
let journal: FakeJournal;
let simulated: { file: string; cleanup(): void };

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
  simulated = await buildSimulatedHelperBundle();
});

afterAll(async () => {
  sys.remove();
  fs.rmSync(modulesDir, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  await journal.close();
  simulated.cleanup();
});

describe("the udev helper's bundle", () => {
  it("bundles no npm package and nothing of the command line", async () => {
    const helper = await bundleInputs("src/start/udevHelperMain.ts");
    expect(helper).toContain("src/helper/handleAddEvent.ts");
    expect(helper.filter((input) => input.includes("node_modules"))).toEqual([]);
    expect(helper.filter((input) => input.startsWith("src/cli/"))).toEqual([]);
  });

  it("takes Node's builtins as their module objects, and never through import()", async () => {
    const buildBundle = await loadBuildBundle();
    const file = path.join(work, "readable-helper.js");
    await buildBundle(path.join(REPO, "src/start/udevHelperMain.ts"), file, { minify: false, absWorkingDir: REPO });
    const text = fs.readFileSync(file, "utf8");
    expect(text).toMatch(/\bfs\d* = require\("node:fs"\)/);
    expect(text).not.toMatch(/__toESM\(require\("node:/);
    // net only where it is first used (src/process/lazyBuiltins.ts); import() of anything
    // would load Node's ES module loader too.
    expect(text).not.toMatch(/\bnet\d* = require\("node:net"\)/);
    expect(text).toMatch(/return require\("node:net"\)/);
    expect(text).not.toMatch(/\bimport\(/);
    expect(fs.readFileSync(HELPER_BUNDLE, "utf8")).not.toMatch(/\bimport\(/);
  });

  it("decides an already bound device's event without loading child_process, crypto, perf_hooks, parseArgs, net or stream", async () => {
    const result = await udevEvent(path.join(work, "state"), {
      node: [...RULE_FLAGS, "-r", path.join(work, "modules.cjs")],
    });
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
    expect(loaded).not.toContain("NativeModule vm");
    for (const module of [
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
    await runBundle([], { bundle: empty, node: [...RULE_FLAGS, "-r", path.join(work, "modules.cjs")] });
    const floor = fs.readFileSync(path.join(work, "loaded"), "utf8").split("\n");
    expect(floor).toContain("NativeModule fs");
    expect(loaded.filter((m) => /\bnet\b|stream/.test(m) && !floor.includes(m))).toEqual([]);
  });

  it.each(TEST_NODES)("binds a claimed device's event on $name and logs it to the kernel log", async (node) => {
    assertTestNode(node);
    const host = makeSimulatedHost();
    const configDir = path.join(work, `bind-config-${node.version}-${Date.now()}`);
    fs.mkdirSync(configDir);
    fs.writeFileSync(path.join(configDir, "50-nvme.conf"), `[Claim]\nAddress=${NVME}\n`);
    const bindJournal = await startFakeJournal();
    try {
      const result = await runHelperBundle(
        host.rootArgs({ configDir, kmsg: bindJournal.kmsg, journalSocket: bindJournal.socket }),
        {
          bundle: simulated.file,
          nodeBinary: node.binary,
          node: [...RULE_FLAGS, "-r", path.join(work, "modules.cjs")],
          env: { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: NVME, DEVPATH: `/devices/pci0000:00/${NVME}` },
        },
      );
      expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
      expect(bindJournal.entries).toEqual([
        expect.objectContaining({ identifier: "vfio-autobind", priority: 6, transport: "kernel" }),
      ]);
      expect(bindJournal.entries[0]?.message).toMatch(/^0000:00:04\.0: bound to vfio-pci /);
      expect(host.kernel.boundDriver(NVME)).toBe("vfio-pci");
      const loaded = fs.readFileSync(path.join(work, "loaded"), "utf8").split("\n");
      expect(loaded).toContain("NativeModule fs"); // the list is real
      // The lock's flock(1) ran: child_process, loaded where it is first used.
      expect(loaded).toContain("NativeModule child_process");
    } finally {
      await bindJournal.close();
      host.cleanup();
    }
  });
});
