import { describe, expect, it } from "vitest";
import type { BesideLibvirtResult } from "./guest/scenarios/besideLibvirt.js";
import { bootDevices, fixtureVariants } from "./shared/machineLayout.js";
import { releaseNamed } from "./shared/releases.js";
import { describeVm, scenarioResult, vmReport } from "./scenarioReport.js";

interface OutcomeJson {
  readonly status: string;
  readonly message: string;
}

const address = bootDevices.netLibvirt.address;

// Only the primary release's guest root has libvirt (shared/releases.ts).
const release = releaseNamed(vmReport?.release);
const describeLibvirt = release.libvirt ? describeVm : describe.skip;

describeLibvirt(`the release's libvirt uses a claimed device (${release.label})`, () => {
  const result = scenarioResult<BesideLibvirtResult>("beside-libvirt");
  const steps = () => {
    expect(result.libvirt, "the guest root has no virsh").toBe(true);
    return result.steps as NonNullable<BesideLibvirtResult["steps"]>;
  };

  it("the claim binds the device to its most specific variant", () => {
    expect(steps().claim.exitCode).toBe(0);
    expect(steps().claimed.driver).toBe(fixtureVariants.subsys.driver);
  });

  it("virsh nodedev-detach leaves it on that VFIO driver", () => {
    expect(steps().detach.exitCode, steps().detach.stderr).toBe(0);
    expect(steps().detached.driver).toBe(fixtureVariants.subsys.driver);
  });

  it("a managed='yes' domain starts paused with QEMU holding the device's group", () => {
    expect(steps().define.exitCode, steps().define.stderr).toBe(0);
    expect(steps().start.exitCode, steps().start.stderr).toBe(0);
    expect(steps().qemuPid).not.toBeNull();
    expect(steps().qemuHoldsGroup).toBe(true);
  });

  it("while the domain runs, release refuses and names QEMU's pid", () => {
    const release = steps().releaseWhileRunning;
    expect(release.run.exitCode).toBe(1);
    expect((release.run.json as OutcomeJson).status).toBe("refused");
    expect((release.run.json as OutcomeJson).message).toMatch(
      new RegExp(`is open by qemu\\S* \\(pid ${steps().qemuPid}\\); stop the VM first`),
    );
    expect(release.after.driver).toBe(fixtureVariants.subsys.driver);
  });

  it("virsh destroy stops it and leaves it on that driver: libvirt found it there, so it gives nothing back", () => {
    expect(steps().destroy.exitCode, steps().destroy.stderr).toBe(0);
    expect(steps().destroyed.driver).toBe(fixtureVariants.subsys.driver);
  });

  it("after virsh nodedev-reattach the device is on its host driver, and the tool does not take it back by itself", () => {
    expect(steps().reattach.exitCode, steps().reattach.stderr).toBe(0);
    expect(steps().reattached.driver).toBe("virtio-pci");
    expect(steps().settledAfterReattach.driver).toBe("virtio-pci");
    expect(steps().settledAfterReattach.override).toBeNull();
    expect(steps().toolLinesAfterReattach.filter((line) => line.includes("bound to"))).toEqual([]);
  });

  it("status and check say where it is and what to do; apply takes it back", () => {
    const line = new RegExp(
      `^vfio-autobind: (notice: )?${address}: claimed, but on virtio-pci since .*; run "vfio-autobind apply" to take it back, or unclaim it$`,
      "m",
    );
    expect(steps().status.exitCode).toBe(3);
    expect(steps().status.stderr).toMatch(line);
    expect(steps().check.exitCode).toBe(0);
    expect(steps().check.stderr).toMatch(line);
    expect(steps().apply.exitCode, steps().apply.stderr).toBe(0);
    expect(steps().apply.stdout).toContain(`${address}: bound to`);
    expect(steps().applied.driver).toBe(fixtureVariants.subsys.driver);
  });

  it("unclaim --now gives it back to virtio-pci", () => {
    expect(steps().unclaim.exitCode).toBe(0);
    expect(steps().unclaimed.driver).toBe("virtio-pci");
  });
});
