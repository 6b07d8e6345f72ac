import { expect, it } from "vitest";
import { bootDevices, fixtureVariants } from "./shared/machineLayout.js";
import type { DriverMovesResult } from "./guest/scenarios/driverMoves.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

describeVm("scenario: a better driver installed the DKMS way moves claimed devices to it", () => {
  const result = scenarioResult<DriverMovesResult>("driver-moves");
  const moving = bootDevices.blkVariant.address;
  const pinned = bootDevices.netFallback.address;
  const held = bootDevices.netVariant.address;

  it("starts with all three claimed devices on vfio-pci, the variants out of the index", () => {
    expect(result.applied.exitCode).toBe(0);
    for (const device of Object.values(result.before)) expect(device.driver).toBe("vfio-pci");
    expect(result.holderOpened).toBe(true);
  });

  it("moves the free auto-claimed device to the variant within 30 s of depmod, with one journal line", () => {
    expect(result.movedAfterSeconds).not.toBeNull();
    expect(result.after.moving.driver).toBe(fixtureVariants.generic.driver);
    expect(result.serviceResult).toBe("success");
    const lines = result.journal.tool.map((e) => e.message).filter((m) => m.startsWith(`${moving}: `));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${moving}: bound to ${fixtureVariants.generic.driver} .*; moved from vfio-pci: ${fixtureVariants.generic.module} was installed `,
      ),
    );
  });

  it("leaves the device pinned with Driver=vfio-pci where it is, without a line", () => {
    expect(result.after.pinned.driver).toBe("vfio-pci");
    expect(result.journal.tool.map((e) => e.message).filter((m) => m.startsWith(`${pinned}: `))).toEqual([]);
  });

  it("leaves the held device, and the journal and status say where it would go, who holds it and what to run", () => {
    expect(result.after.held.driver).toBe("vfio-pci");
    const waiting = new RegExp(
      `would move to ${fixtureVariants.subsys.module} \\(installed [^)]+\\); /dev/vfio/${result.before.held.iommuGroup} is open by node \\(pid \\d+\\); run "vfio-autobind apply" after the VM stops`,
    );
    const lines = result.journal.tool.map((e) => e.message).filter((m) => m.startsWith(`${held}: `));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(waiting);
    expect(result.status.stderr).toMatch(waiting);
    expect(result.status.exitCode).toBe(3);
  });
});
