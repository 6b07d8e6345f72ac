/**
 * The bundle's udev part (build.mjs: the entry, src/udevMain.ts, and the helper it compiles
 * with a code cache, src/udevProgram.ts) is what every udev event compiles under --jitless:
 * it must stay free of npm packages, a udev event must not load the modules that only the
 * command line or a child process needs, and the code cache must be written once and then
 * taken. Speed itself is measured by `npm run bench`, never here.
 */
import { createHash } from "node:crypto";
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
import { BUNDLE, runBundle } from "../support/runBundle.js";
import { assertTestNode, RULE_FLAGS, TEST_NODES, WRAPPER_FLAGS } from "../support/testNodes.js";
import { buildSimulatedProductionBundle, loadBundleWithUdevPart } from "../support/simulatedBundle.js";

const REPO = path.resolve(__dirname, "../..");
const NODE18 = TEST_NODES.find((node) => node.version.startsWith("18."))?.binary as string;

/** The udev helper's code, as build.mjs embeds it on its comment line. */
function embeddedUdevProgram(text: string): string {
  const marker = "\n//vfio-autobind-udev:";
  const at = text.lastIndexOf(marker);
  return JSON.parse(text.slice(at + marker.length, text.indexOf("\n", at + 1))) as string;
}

const EVENT_ENV = {
  ACTION: "add",
  SUBSYSTEM: "pci",
  PCI_SLOT_NAME: "0000:00:03.0",
  DEVPATH: "/devices/pci0000:00/0000:00:03.0",
};

/** One udev event for the claimed, already bound device, with its state in `stateDir`. */
const udevEvent = (stateDir: string, options: { node?: string[]; nodeBinary?: string; mdwe?: boolean } = {}) =>
  runBundle(
    [
      "udev-event",
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
  simulated = await buildSimulatedProductionBundle();
});

afterAll(async () => {
  sys.remove();
  fs.rmSync(modulesDir, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  await journal.close();
  simulated.cleanup();
});

describe("the bundle's udev part", () => {
  it("bundles no npm package (yargs, execa and their dependencies stay in the compiled-on-demand part)", async () => {
    const entry = await bundleInputs("src/udevMain.ts");
    const helper = await bundleInputs("src/udevProgram.ts");
    expect(helper.some((input) => input.startsWith("src/udev/udevHelperProcess"))).toBe(true);
    // The entry compiles without a cache: it holds what finds the helper, not the helper; of
    // the binder, only the exit-code table (esbuild keeps no more of outcomes.ts than it).
    expect(
      entry.filter(
        (input) =>
          (input.startsWith("src/binder/") && input !== "src/binder/outcomes.ts") ||
          input.includes("udevHelperProcess"),
      ),
    ).toEqual([]);
    for (const inputs of [entry, helper]) {
      expect(inputs.filter((input) => input.includes("node_modules"))).toEqual([]);
      expect(inputs.filter((input) => input.startsWith("src/cli/"))).toEqual([]);
    }
  });

  it("takes Node's builtins as their module objects, not as per-importer copies with a getter per member", async () => {
    const bundleWithUdevPart = await loadBundleWithUdevPart();
    const text = await bundleWithUdevPart({
      udevEntry: path.join(REPO, "src/udevMain.ts"),
      udevProgram: path.join(REPO, "src/udevProgram.ts"),
      wholeEntry: path.join(REPO, "src/main.ts"),
      extra: { minify: false, absWorkingDir: REPO },
    });
    const udevPart = embeddedUdevProgram(text);
    expect(udevPart).toMatch(/\bfs\d* = require\("node:fs"\)/);
    expect(udevPart).not.toMatch(/__toESM\(require\("node:/);
    // net only where it is first used (src/process/lazyBuiltins.ts), and never through import(),
    // which would load Node's ES module loader too.
    expect(udevPart).not.toMatch(/\bnet\d* = require\("node:net"\)/);
    expect(udevPart).toMatch(/return require\("node:net"\)/);
    expect(udevPart).not.toMatch(/import\("node:net"\)/);
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
    expect(loaded).toContain("NativeModule vm"); // what compiles the helper with its code cache
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
      const result = await runBundle(
        ["udev-event", ...host.rootArgs({ configDir, kmsg: bindJournal.kmsg, journalSocket: bindJournal.socket })],
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
      // The lock's flock(1) ran: child_process, loaded from the helper's vm.Script.
      expect(loaded).toContain("NativeModule child_process");
    } finally {
      await bindJournal.close();
      host.cleanup();
    }
  });

  it("has no import() in the helper or the rest of the program: vm.Script, which compiles them, gives it no loader", () => {
    const text = fs.readFileSync(BUNDLE, "utf8");
    const marker = "\n//vfio-autobind-program:";
    const whole = JSON.parse(text.slice(text.lastIndexOf(marker) + marker.length)) as string;
    for (const program of [embeddedUdevProgram(text), whole]) expect(program).not.toMatch(/\bimport\(/);
  });

  /** The code cache's file in `stateDir`, named by the hash of the helper in the built bundle. */
  const cacheIn = (stateDir: string): string => {
    const key = createHash("sha256")
      .update(embeddedUdevProgram(fs.readFileSync(BUNDLE, "utf8")))
      .digest("hex")
      .slice(0, 16);
    return path.join(stateDir, "code-cache", `udev-${key}.v8`);
  };
  /** One event with its state in `stateDir`, which must exit 0 and quietly; its journal line. */
  const decided = async (
    stateDir: string,
    options: { nodeBinary?: string; mdwe?: boolean } = {},
  ): Promise<string | undefined> => {
    const result = await udevEvent(stateDir, options);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
    return journal.entries.at(-1)?.message;
  };

  it("writes the helper's code cache after an event, named by a hash of the helper, and takes it on the next", async () => {
    const stateDir = path.join(work, "cache-state");
    const cache = cacheIn(stateDir);
    const first = await decided(stateDir);
    expect(first).toMatch(/^0000:00:03\.0: already bound to virtio_vfio_pci/);
    const written = fs.statSync(cache);
    expect(written.mode & 0o777).toBe(0o600);
    // Taken, also under udevd's sandbox: a cache V8 rejected would be written again, as a new file.
    expect(await decided(stateDir, { mdwe: true })).toBe(first);
    expect(fs.statSync(cache).ino).toBe(written.ino);
    // A damaged cache is rejected by V8, and replaced; the event decides the same.
    fs.writeFileSync(cache, Buffer.alloc(written.size));
    expect(await decided(stateDir)).toBe(first);
    expect(fs.readFileSync(cache).equals(Buffer.alloc(written.size))).toBe(false);
    // Another Node's V8 rejects this one's cache too (Node 18 is what Debian bookworm runs;
    // npm test's pretest step fetches it).
    const fromThisNode = fs.readFileSync(cache);
    expect(await decided(stateDir, { nodeBinary: NODE18 })).toBe(first);
    expect(fs.readFileSync(cache).equals(fromThisNode)).toBe(false);
    const fromNode18 = fs.statSync(cache);
    expect(await decided(stateDir, { nodeBinary: NODE18 })).toBe(first);
    expect(fs.statSync(cache).ino).toBe(fromNode18.ino);
  });

  it("drops a cache whose payload was damaged behind an intact header, decides the same, and writes a good one", async () => {
    // V8 checks only the header: such a cache, used, crashes node (exit 133) on every event.
    const stateDir = path.join(work, "damaged-cache-state");
    const cache = cacheIn(stateDir);
    const first = await decided(stateDir);
    const damaged = fs.readFileSync(cache);
    damaged.fill(0xa5, 64);
    fs.writeFileSync(cache, damaged);
    expect(await decided(stateDir)).toBe(first);
    expect(fs.readFileSync(cache).equals(damaged)).toBe(false);
    const written = fs.statSync(cache);
    expect(await decided(stateDir)).toBe(first);
    expect(fs.statSync(cache).ino).toBe(written.ino); // taken, not written again
  });

  it("still runs every other command, from the compiled-on-demand part", async () => {
    const version = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).version as string;
    const result = await runBundle(["--version"], { node: [...WRAPPER_FLAGS, "-r", path.join(work, "modules.cjs")] });
    expect({ exitCode: result.exitCode, stdout: result.stdout.trim(), stderr: result.stderr }).toEqual({
      exitCode: 0,
      stdout: version,
      stderr: "",
    });
    expect(fs.readFileSync(path.join(work, "loaded"), "utf8").split("\n")).toContain("NativeModule vm");
  });
});
