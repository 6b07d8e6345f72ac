/**
 * systemd-udevd runs with MemoryDenyWriteExecute=yes and its RUN+= programs inherit it.
 * PR_SET_MDWE applies the same restriction to one process; plain node dies under it
 * (V8's JIT needs writable-executable memory), node with the packaged command lines' flags
 * must not, on any supported Node major.
 */
import * as fs from "node:fs";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VIRTIO_NET_DEVICE } from "../../support/fakeDevices.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeModulesDir, mainlineVariantsAlias } from "../../support/fixtures.js";
import { assertBundleBuilt, BUNDLE, MDWE_LAUNCHER, runBundle, withoutNodeNotices } from "../support/runBundle.js";
import { assertTestNode, RULE_FLAGS, TEST_NODES, WRAPPER_FLAGS } from "../support/testNodes.js";

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
});

describe.each(TEST_NODES)("on $name", (node) => {
  it.each([
    ["udev rule's", RULE_FLAGS],
    ["wrapper's", WRAPPER_FLAGS],
  ])("the %s command line runs under the sandbox with nothing of ours on stderr", async (_name, flags) => {
    assertTestNode(node);
    assertBundleBuilt();
    expect(flags).toContain("--jitless");
    const result = await execa("python3", [MDWE_LAUNCHER, node.binary, ...flags, BUNDLE, "--version"], {
      reject: false,
    });
    expect({ exitCode: result.exitCode, stderr: withoutNodeNotices(result.stderr) }).toEqual({
      exitCode: 0,
      stderr: "",
    });
  });

  it("runs explain under the sandbox", async () => {
    assertTestNode(node);
    const result = await runBundle(
      ["explain", "00:03.0", "--json", "--sysfs-root", sys.root, "--modules-dir", modulesDir],
      { mdwe: true, nodeBinary: node.binary },
    );
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).best.module).toBe("virtio_vfio_pci");
  });
});
