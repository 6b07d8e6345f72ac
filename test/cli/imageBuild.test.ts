/**
 * Claims made in a chroot or an image build, where no /sys is mounted (issue 13, part 3):
 * claim, apply and unclaim write the claim and the rules, bind nothing, and say so.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/runCli.js";

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-image-"));
  fs.mkdirSync(path.join(work, "sys")); // mounted nowhere: an empty directory, as in a chroot
});
afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(
    [
      "--sysfs-root",
      path.join(work, "sys"),
      "--modules-dir",
      path.join(work, "modules"),
      "--state-dir",
      path.join(work, "run"),
      "--proc-root",
      path.join(work, "proc"),
      "--config-dir",
      path.join(work, "etc", "vfio-autobind"),
      "--rules-file",
      path.join(work, "etc", "udev", "rules.d", "69-vfio-autobind-claims.rules"),
      "--udevadm",
      path.join(work, "no-udevadm"),
      ...args,
    ],
    { out: (t) => void (out += t), err: (t) => void (err += t) },
    {
      kernelIo: () => ({
        writeAttribute: () => expect.unreachable("no sysfs write"),
        loadModule: () => Promise.reject(new Error("no modprobe")),
      }),
    },
  );
  return { code, out, err };
}

describe("claims in an image build, with no /sys", () => {
  it("claim writes the claim and the rules, binds nothing, and says why", async () => {
    const claimed = await cli(["claim", "0000:3b:00.2"]);
    expect(claimed.code).toBe(0);
    expect(claimed.out).toContain(`wrote ${path.join(work, "etc", "vfio-autobind", "50-claim-0000_3b_00.2.conf")}`);
    expect(claimed.out).toContain(
      `${path.join(work, "sys", "bus", "pci", "devices")} does not exist (a chroot or an image build?): no device bound or released now; the claims apply when the system boots`,
    );
    const rules = fs.readFileSync(path.join(work, "etc", "udev", "rules.d", "69-vfio-autobind-claims.rules"), "utf8");
    expect(rules).toContain('KERNEL=="0000:3b:00.2"');
    expect(claimed.err).not.toMatch(/cannot list PCI devices/);
  });

  it("apply and unclaim succeed the same way, and check finds the rules up to date", async () => {
    expect((await cli(["claim", "--ids", "15b3:101e"])).code).toBe(0);
    const applied = await cli(["apply"]);
    expect(applied.code).toBe(0);
    expect(applied.out).toContain("does not exist (a chroot or an image build?)");
    expect((await cli(["check"])).code).toBe(0);
    const unclaimed = await cli(["unclaim", "--ids", "15b3:101e"]);
    expect(unclaimed.code).toBe(0);
    // No claim file left; the generated hold script (of no claims) stays, as the rules do.
    expect(fs.readdirSync(path.join(work, "etc", "vfio-autobind"))).toEqual(["generated"]);
  });
});

describe("apply --rules-only --kernel-release (the kernel install hook)", () => {
  it("compiles the rules' decisions for the named kernel from its aliases, and binds nothing", async () => {
    const modules = path.join(work, "modules");
    fs.mkdirSync(modules, { recursive: true });
    fs.writeFileSync(
      path.join(modules, "modules.alias"),
      "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\nalias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci\n",
    );
    expect((await cli(["claim", "0000:3b:00.2"])).code).toBe(0);
    const hook = await cli(["apply", "--rules-only", "--kernel-release", "6.12.9-1-amd64"]);
    expect(hook.code).toBe(0);
    // No udevd in a chroot: a warning, nothing else.
    expect(hook.err).toMatch(/^vfio-autobind: warning: could not reload udev rules .*\n$/s);
    const rulesFile = path.join(work, "etc", "udev", "rules.d", "69-vfio-autobind-claims.rules");
    expect(hook.out).toBe(`wrote ${rulesFile}\n`);
    const rules = fs.readFileSync(rulesFile, "utf8");
    expect(rules).toMatch(/^# compiled-for: 6\.12\.9-1-amd64 [0-9a-f]{16}$/m);
    expect(rules).toContain('SYSCTL{kernel/osrelease}!="6.12.9-1-amd64"');
    expect(rules).toContain(
      'ENV{MODALIAS}=="pci:v00001AF4d00001041sv*sd*bc*sc*i*", ENV{VFIO_AUTOBIND_MODULE}="virtio_vfio_pci", ENV{VFIO_AUTOBIND_DRIVER}=""',
    );
    // Run again: nothing changed.
    expect((await cli(["apply", "--rules-only", "--kernel-release", "6.12.9-1-amd64"])).out).toBe(
      `${rulesFile} is up to date\n`,
    );
  });

  it("refuses a release that is not one", async () => {
    const bad = await cli(["apply", "--rules-only", "--kernel-release", "../../etc"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--kernel-release "\.\.\/\.\.\/etc": not a kernel release/);
  });
});
