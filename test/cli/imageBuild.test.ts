/**
 * Claims made in a chroot or an image build, where no /sys is mounted:
 * claim, apply and unclaim write the claim and the rules, bind nothing, and say so.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

// The workspace's sysfs root is mounted nowhere: an empty directory, as in a chroot.
let ws: CliWorkspace;
beforeEach(() => {
  ws = makeCliWorkspace("image");
});
afterEach(() => {
  ws.cleanup();
});

const cli = (args: readonly string[]) =>
  runCliInProcess([...ws.rootArgs(), ...args], {
    kernelIo: () => ({
      writeAttribute: () => expect.unreachable("no sysfs write"),
      loadModule: () => Promise.reject(new Error("no modprobe")),
    }),
  });

describe("claims in an image build, with no /sys", () => {
  it("claim writes the claim and the rules, binds nothing, and says why", async () => {
    const claimed = await cli(["claim", "0000:3b:00.2"]);
    expect(claimed.exitCode).toBe(0);
    expect(claimed.stdout).toContain(`wrote ${path.join(ws.configDir, "50-claim-0000_3b_00.2.conf")}`);
    expect(claimed.stdout).toContain(
      `${path.join(ws.sysfsRoot, "bus", "pci", "devices")} does not exist (a chroot or an image build?): no device bound or released now; the claims apply when the system boots`,
    );
    const rules = fs.readFileSync(ws.rulesFile, "utf8");
    expect(rules).toContain('KERNEL=="0000:3b:00.2"');
    expect(claimed.stderr).not.toMatch(/cannot list PCI devices/);
  });

  it("apply and unclaim succeed the same way, and check finds the rules up to date", async () => {
    expect((await cli(["claim", "--ids", "15b3:101e"])).exitCode).toBe(0);
    const applied = await cli(["apply"]);
    expect(applied.exitCode).toBe(0);
    expect(applied.stdout).toContain("does not exist (a chroot or an image build?)");
    expect((await cli(["check"])).exitCode).toBe(0);
    const unclaimed = await cli(["unclaim", "--ids", "15b3:101e"]);
    expect(unclaimed.exitCode).toBe(0);
    // No claim file left; the generated hold script (of no claims) stays, as the rules do.
    expect(fs.readdirSync(ws.configDir)).toEqual(["generated"]);
  });
});

describe("apply --rules-only --kernel-release (the kernel install hook)", () => {
  it("compiles the rules' decisions for the named kernel from its aliases, and binds nothing", async () => {
    const modules = ws.modulesDir;
    fs.mkdirSync(modules, { recursive: true });
    fs.writeFileSync(
      path.join(modules, "modules.alias"),
      "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\nalias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci\n",
    );
    expect((await cli(["claim", "0000:3b:00.2"])).exitCode).toBe(0);
    const hook = await cli(["apply", "--rules-only", "--kernel-release", "6.12.9-1-amd64"]);
    expect(hook.exitCode).toBe(0);
    // No udevd in a chroot: a warning, nothing else.
    expect(hook.stderr).toMatch(/^vfio-autobind: warning: could not reload udev rules .*\n$/s);
    const rulesFile = ws.rulesFile;
    expect(hook.stdout).toBe(`wrote ${rulesFile}\n`);
    const rules = fs.readFileSync(rulesFile, "utf8");
    expect(rules).toMatch(/^# compiled-for: 6\.12\.9-1-amd64 [0-9a-f]{16}$/m);
    expect(rules).toContain('SYSCTL{kernel/osrelease}!="6.12.9-1-amd64"');
    expect(rules).toContain(
      'ENV{MODALIAS}=="pci:v00001AF4d00001041sv*sd*bc*sc*i*", ENV{VFIO_AUTOBIND_PLAN_MODULE}="virtio_vfio_pci", ENV{VFIO_AUTOBIND_PLAN_DRIVER}=""',
    );
    // Run again: nothing changed.
    expect((await cli(["apply", "--rules-only", "--kernel-release", "6.12.9-1-amd64"])).stdout).toBe(
      `${rulesFile} is up to date\n`,
    );
  });

  it("refuses a release that is not one", async () => {
    const bad = await cli(["apply", "--rules-only", "--kernel-release", "../../etc"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--kernel-release "\.\.\/\.\.\/etc": not a kernel release/);
  });
});
