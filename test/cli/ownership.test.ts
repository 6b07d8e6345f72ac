/**
 * Owner= and Mode= from the command line: claim --owner/--mode writes the ownership rules,
 * check reports names with no account (under --accounts-root, never the host's files) and
 * IOMMU groups given two owners, each at file:line.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle } from "../support/runBundle.js";

let sys: FakeSysfs;
let ws: CliWorkspace;
let configDir: string;
let rulesFile: string;

beforeEach(() => {
  sys = FakeSysfs.create();
  sys.addDevice({ address: "0000:00:03.0", vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 7 });
  sys.addDevice({ address: "0000:00:04.0", vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 7 });
  ws = makeCliWorkspace("owner", { sysfs: sys });
  ({ configDir, rulesFile } = ws);
  fs.mkdirSync(configDir, { recursive: true });
  ws.writeAccounts({
    passwd: "root:x:0:0::/root:/bin/sh\nchv:x:990:990::/:/bin/false\nalice:x:1001:1001::/home/alice:/bin/bash\n",
    group: "root:x:0:\nchv:x:990:\nalice:x:1001:\n",
  });
  ws.installUdevadm();
});

afterEach(() => ws.cleanup());

const run = (args: string[]) => runBundle([...args, ...ws.rootArgs()]);

describe("Owner= and Mode= from the command line", () => {
  it("claim --owner/--mode writes the claim and ownership rules for the group node and the cdev", async () => {
    const claim = await run(["claim", "0000:00:03.0", "--owner", "chv:chv", "--mode", "0600", "--group", "ignore"]);
    expect(claim.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(configDir, "50-claim-0000_00_03.0.conf"), "utf8")).toContain(
      "Owner=chv:chv\nMode=0600\n",
    );
    const rules = fs.readFileSync(rulesFile, "utf8");
    const group = 'SUBSYSTEM=="vfio", KERNEL=="[0-9]*", TEST=="/sys/kernel/iommu_groups/$kernel/devices/0000:00:03.0"';
    const cdev = 'SUBSYSTEM=="vfio-dev", KERNEL=="vfio[0-9]*", KERNELS=="0000:00:03.0"';
    for (const match of [group, cdev]) {
      expect(rules).toContain(`\n${match}, OWNER="chv", GROUP="chv"\n`);
      expect(rules).toContain(`\n${match}, MODE="0600"\n`);
    }
    expect(rules).not.toContain("0000:00:04.0");
  });

  it("claim refuses an --owner with no account, writing nothing (exit 2)", async () => {
    const claim = await run(["claim", "0000:00:03.0", "--owner", "qemu"]);
    expect(claim).toMatchObject({ exitCode: 2 });
    expect(claim.stderr.split("\n")[0]).toBe(
      "vfio-autobind: --owner qemu: no user qemu on this system (getent passwd qemu finds none); udev would ignore it",
    );
    expect(fs.readdirSync(configDir)).toEqual([]);
  });

  it("check names an Owner= user or group with no account at its file:line", async () => {
    fs.writeFileSync(path.join(configDir, "10-a.conf"), "[Claim]\nAddress=0000:00:03.0\nOwner=qemu:kvm\n");
    const check = await run(["check"]);
    expect(check.exitCode).toBe(1);
    expect(check.stderr.split("\n").slice(0, 2)).toEqual([
      `${configDir}/10-a.conf:3: Owner=: no user qemu on this system (getent passwd qemu finds none); udev would ignore it`,
      `${configDir}/10-a.conf:3: Owner=: no group kvm on this system (getent group kvm finds none); udev would ignore it`,
    ]);
  });

  it("check and apply refuse claims that give one IOMMU group two owners, naming both lines", async () => {
    fs.writeFileSync(
      path.join(configDir, "10-a.conf"),
      "[Claim]\nAddress=0000:00:03.0\nOwner=chv\n[Claim]\nAddress=0000:00:04.0\nOwner=990\nMode=0600\n",
    );
    const check = await run(["check"]);
    expect(check.exitCode).toBe(1);
    expect(check.stderr).toContain(`${configDir}/10-a.conf:3: IOMMU group 7 shares one node /dev/vfio/7:`);
    expect(check.stderr).toContain(`${configDir}/10-a.conf:6: IOMMU group 7 shares one node /dev/vfio/7:`);
    const apply = await run(["apply"]);
    expect(apply.exitCode).toBe(1);
    expect(apply.stderr).toContain("nothing was changed");
    expect(fs.existsSync(rulesFile)).toBe(false);
  });

  it("claim refuses a claim that would give an IOMMU group a second owner, and leaves the config as it was", async () => {
    expect((await run(["claim", "0000:00:03.0", "--owner", "chv", "--group", "ignore"])).exitCode).toBe(0);
    const files = fs.readdirSync(configDir).sort();
    const second = await run(["claim", "0000:00:04.0", "--owner", "990", "--group", "ignore"]);
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toMatch(
      /^vfio-autobind: not claimed, nothing written: .*IOMMU group 7 shares one node \/dev\/vfio\/7/,
    );
    expect(fs.readdirSync(configDir).sort()).toEqual(files);
    expect((await run(["check"])).exitCode).toBe(0);
  });

  it("refuses an Owner= user or group that is not a system account, at file:line, for check, claim and apply", async () => {
    const why =
      "is not a system user (SYS_UID_MAX is 999): systemd 258 and 259 ignore OWNER= naming one and drop the whole rule line, so the nodes keep udev's default owner and mode; 260 and later take it with a deprecation warning. Give a system user (useradd --system), or Owner=root:GROUP with a system group the VMM's user belongs to, and Mode=0660";
    fs.writeFileSync(path.join(configDir, "10-a.conf"), "[Claim]\nAddress=0000:00:03.0\nMode=0660\nOwner=alice\n");
    const check = await run(["check"]);
    expect(check.exitCode).toBe(1);
    expect(check.stderr.split("\n")[0]).toBe(`${configDir}/10-a.conf:4: Owner=: user alice (uid 1001) ${why}`);
    const apply = await run(["apply"]);
    expect(apply.exitCode).toBe(1);
    expect(apply.stderr).toContain(`10-a.conf:4: Owner=: user alice (uid 1001) ${why}`);
    expect(fs.existsSync(rulesFile)).toBe(false);

    fs.rmSync(path.join(configDir, "10-a.conf"));
    const claim = await run(["claim", "0000:00:04.0", "--owner", "chv:alice"]);
    expect(claim.exitCode).toBe(2);
    expect(claim.stderr.split("\n")[0]).toMatch(
      /^vfio-autobind: --owner chv:alice: group alice \(gid 1001\) is not a system group \(SYS_GID_MAX is 999\): systemd 258 and 259 ignore GROUP= /,
    );
    expect(fs.readdirSync(configDir)).toEqual([]);
  });

  it("takes the system ranges from login.defs", async () => {
    ws.writeAccounts({
      passwd: "alice:x:1001:1001::/home/alice:/bin/bash\n",
      group: "alice:x:1001:\n",
      loginDefs: "SYS_UID_MAX 1999\nSYS_GID_MAX 1999\n",
    });
    fs.writeFileSync(path.join(configDir, "10-a.conf"), "[Claim]\nAddress=0000:00:03.0\nOwner=alice:alice\n");
    expect((await run(["check"])).exitCode).toBe(0);
  });

  it("looks accounts up through NSS (getent), as udevd does, not in /etc/passwd", async () => {
    // A directory service's account: getent knows it, the account files do not.
    fs.rmSync(path.join(ws.dir, "etc", "passwd"));
    fs.writeFileSync(
      ws.roots.getent as string,
      '#!/bin/sh\n[ "$1 $2" = "passwd vmm" ] && echo "vmm:*:995:995:VMM:/:/sbin/nologin" && exit 0\nexit 2\n',
    );
    fs.writeFileSync(path.join(configDir, "10-a.conf"), "[Claim]\nAddress=0000:00:03.0\nOwner=vmm\n");
    const found = await run(["check"]);
    expect(found.exitCode).toBe(0);
    expect(found.stderr).not.toContain("Owner=");
    fs.writeFileSync(path.join(configDir, "10-a.conf"), "[Claim]\nAddress=0000:00:03.0\nOwner=chv\n");
    expect((await run(["check"])).stderr.split("\n")[0]).toBe(
      `${configDir}/10-a.conf:3: Owner=: no user chv on this system (getent passwd chv finds none); udev would ignore it`,
    );
  });
});
