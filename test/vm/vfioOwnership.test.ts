import { expect, it } from "vitest";
import { bootDevices, genericVfio } from "./shared/machineLayout.js";
import type { VfioOwnershipResult } from "./guest/scenarios/vfioOwnership.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

interface StatusJson {
  readonly devices: ReadonlyArray<{
    readonly address: string;
    readonly groupNode: string | null;
    readonly cdev: string | null;
    readonly owner: { user: string; group: string | null } | null;
    readonly mode: string | null;
    readonly groupNodeOwnership: { uid: number; gid: number; mode: string } | null;
  }>;
}

describeVm("Owner= and Mode= give an unprivileged VMM the device's VFIO nodes", () => {
  const result = scenarioResult<VfioOwnershipResult>("vfio-ownership");
  const address = bootDevices.nvme.address;

  it("without a claim's Owner=, the node has udev's default root:root 0600 and the user cannot open it", () => {
    expect(result.defaultBind.exitCode).toBe(0);
    expect(result.defaultNode).toMatchObject({ uid: 0, gid: 0, mode: "0600" });
    expect(result.openDefault.exitCode).not.toBe(0);
    expect(result.openDefault.stderr).toContain("EACCES");
    expect(result.defaultRelease.exitCode).toBe(0);
  });

  it("claim refuses an --owner user that does not exist (exit 2), and writes nothing", () => {
    expect(result.claimUnknownUser.exitCode).toBe(2);
    // The tool's own line, whatever else stderr holds.
    expect(result.claimUnknownUser.stderr.split("\n").find((line) => line.startsWith("vfio-autobind:"))).toBe(
      "vfio-autobind: --owner nosuchuser-vmtest: no user nosuchuser-vmtest on this system (getent passwd nosuchuser-vmtest finds none); udev would ignore it",
    );
    expect(result.claim.exitCode).toBe(0);
  });

  it("claim writes ownership rules for the group node and the cdev", () => {
    expect(result.claim.exitCode).toBe(0);
    const group = `SUBSYSTEM=="vfio", KERNEL=="[0-9]*", TEST=="/sys/kernel/iommu_groups/$kernel/devices/${address}"`;
    const cdev = `SUBSYSTEM=="vfio-dev", KERNEL=="vfio[0-9]*", KERNELS=="${address}"`;
    for (const match of [group, cdev]) {
      expect(result.rules).toContain(`${match}, OWNER="vmtestvmm", GROUP="vmtestvmm"\n`);
      expect(result.rules).toContain(`${match}, MODE="0660"\n`);
    }
  });

  it("the unprivileged user cannot open the group node before the bind", () => {
    expect(result.openBefore.exitCode).not.toBe(0);
  });

  it("after a udev-driven bind the group node has the claim's owner and mode, and the cdev too if there is one", () => {
    expect(result.trigger.exitCode).toBe(0);
    expect(result.driverAfterBind).toBe(genericVfio.driver);
    expect(result.groupNode).toMatchObject({ uid: result.uid, gid: result.gid, mode: "0660" });
    if (result.cdev !== null) expect(result.cdev).toMatchObject({ uid: result.uid, gid: result.gid, mode: "0660" });
  });

  it("status --json reports the nodes, the claim's Owner=/Mode= and the node's real ownership", () => {
    expect(result.status.exitCode).toBe(0);
    const row = (result.status.json as StatusJson).devices.find((d) => d.address === address);
    expect(row).toMatchObject({
      groupNode: result.groupNode?.path,
      owner: { user: "vmtestvmm", group: "vmtestvmm" },
      mode: "0660",
      groupNodeOwnership: { uid: result.uid, gid: result.gid, mode: "0660" },
    });
  });

  it("the unprivileged user can open the group node after the bind", () => {
    expect(result.openAfter.exitCode).toBe(0);
    expect(result.openAfter.stdout).toContain("opened");
  });

  it("release gives the device back and the node goes with it (or is root-only again)", () => {
    expect(result.release.exitCode).toBe(0);
    if (result.groupNodeAfterRelease !== null) {
      expect(result.groupNodeAfterRelease).toMatchObject({ uid: 0, gid: 0, mode: "0600" });
    }
    expect(result.unclaim.exitCode).toBe(0);
  });
});
