/**
 * systemd-udevd runs with MemoryDenyWriteExecute=yes and its RUN+= programs inherit it.
 * PR_SET_MDWE applies the same restriction to one process; plain node dies under it
 * (V8's JIT needs writable-executable memory), node --jitless must not.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VIRTIO_NET_DEVICE } from "../../support/fakeDevices.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeModulesDir, mainlineVariantsAlias } from "../../support/fixtures.js";
import { assertBundleBuilt, BUNDLE, MDWE_LAUNCHER, runBundle } from "../support/runBundle.js";

let sys: FakeSysfs;
let modulesDir: string;

beforeAll(() => {
  sys = FakeSysfs.create();
  sys.addDevice(VIRTIO_NET_DEVICE);
  modulesDir = makeModulesDir({ "modules.alias": mainlineVariantsAlias() });
});

afterAll(() => {
  sys.remove();
  fs.rmSync(modulesDir, { recursive: true, force: true });
});

describe("under the udevd sandbox (PR_SET_MDWE)", () => {
  it("plain node aborts, so the restriction is really in force", async () => {
    const result = await runBundle(["--version"], { mdwe: true, node: [] });
    expect(result.exitCode).not.toBe(0);
    expect(result.exitCode).not.toBe(125); // 125: prctl itself failed
  });

  it("node --jitless runs explain", async () => {
    const result = await runBundle(
      ["explain", "0000:00:03.0", "--json", "--sysfs-root", sys.root, "--modules-dir", modulesDir],
      { mdwe: true },
    );
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).best.module).toBe("virtio_vfio_pci");
  });
});

/** The node flags of the packaged rule's RUN command, as udevd would run it. */
function ruleNodeFlags(): string[] {
  const rules = fs.readFileSync(path.resolve(__dirname, "../../rules.d/70-vfio-autobind.rules"), "utf8");
  const run = /RUN\+="([^"]*)"/.exec(rules)?.[1]?.split(" ") ?? [];
  return run.slice(
    1,
    run.findIndex((word) => word.endsWith(".js")),
  );
}

describe("on Node 18 (Debian bookworm's nodejs)", () => {
  // Node's own Linux build of 18.x, fetched from the npm registry by `npm test`'s pretest step.
  const node18 = path.resolve(__dirname, "../../node_modules/.cache/node18/package/bin/node");

  it.each([
    ["this Node", process.execPath],
    ["Node 18", node18],
  ])("the udev rule's node flags run on %s under the sandbox without a word on stderr", async (_name, node) => {
    assertBundleBuilt();
    const flags = ruleNodeFlags();
    expect(flags).toContain("--jitless");
    expect(flags.length).toBeGreaterThan(2); // the young-generation flag, not only the wrapper's
    const result = await execa("python3", [MDWE_LAUNCHER, node, ...flags, BUNDLE, "--version"], { reject: false });
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
  });

  it("runs explain under --jitless and the sandbox", async () => {
    const version = await execa(node18, ["--version"]);
    expect(version.stdout).toMatch(/^v18\./);
    const result = await runBundle(
      ["explain", "00:03.0", "--json", "--sysfs-root", sys.root, "--modules-dir", modulesDir],
      {
        mdwe: true,
        nodeBinary: node18,
      },
    );
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).best.module).toBe("virtio_vfio_pci");
  });
});
