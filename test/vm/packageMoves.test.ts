import { expect, it } from "vitest";
import { bootDevices, fixtureVariants, genericVfio } from "./shared/machineLayout.js";
import type { PackageMovesResult } from "./guest/scenarios/packageMoves.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

describeVm("scenario: a better driver installed and removed as a package", () => {
  const result = scenarioResult<PackageMovesResult>("package-moves");
  const moving = bootDevices.blkVariant.address;
  const held = bootDevices.netVariant.address;
  const linesOf = (window: PackageMovesResult["installJournal"], address: string): string[] =>
    window.tool.map((e) => e.message).filter((m) => m.startsWith(`${address}: `));

  it("starts with both claimed devices on vfio-pci and one group node held", () => {
    expect(result.applied.exitCode).toBe(0);
    expect(result.before.moving.driver).toBe(genericVfio.driver);
    expect(result.before.held.driver).toBe(genericVfio.driver);
    expect(result.holderOpened).toBe(true);
  });

  it("`apt-get install ./x.deb` moves the free device to its variant within 30 s, with one journal line", () => {
    expect(result.install.exitCode, result.install.stderr).toBe(0);
    expect(result.movedAfterSeconds).not.toBeNull();
    expect(result.movedAfterSeconds).toBeLessThanOrEqual(30);
    expect(result.installResult).toBe("success");
    expect(result.afterInstall.moving.driver).toBe(fixtureVariants.generic.driver);
    const lines = linesOf(result.installJournal, moving);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${moving}: bound to ${fixtureVariants.generic.driver} .*; moved from vfio-pci: ${fixtureVariants.generic.module} was installed `,
      ),
    );
  });

  it("leaves the held device on vfio-pci, and the journal and status say why and what to run", () => {
    expect(result.afterInstall.held.driver).toBe(genericVfio.driver);
    const waiting = new RegExp(
      `would move to ${fixtureVariants.subsys.module} \\(installed [^)]+\\); /dev/vfio/${result.before.held.iommuGroup} is open by node \\(pid \\d+\\); run "vfio-autobind apply" after the VM stops`,
    );
    const lines = linesOf(result.installJournal, held);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(waiting);
    expect(result.statusWhileHeld.stderr).toMatch(waiting);
    expect(result.statusWhileHeld.exitCode).toBe(3);
  });

  it("moves the held device at the admin's `apply` once the holder has exited", () => {
    expect(result.applyAfterHolder.exitCode).toBe(0);
    expect(result.applyAfterHolder.stdout).toMatch(
      new RegExp(`^${held}: bound to ${fixtureVariants.subsys.driver} .*; moved from vfio-pci: `, "m"),
    );
    expect(result.afterApply.held.driver).toBe(fixtureVariants.subsys.driver);
    expect(result.afterApply.moving.driver).toBe(fixtureVariants.generic.driver);
  });

  it("removing the package changes no binding, and status and check name what the next boot gives", () => {
    expect(result.remove.exitCode, result.remove.stderr).toBe(0);
    expect(result.removeResult).toBe("success");
    expect(result.afterRemove).toEqual(result.afterApply);
    expect(linesOf(result.removeJournal, moving)).toEqual([]);
    expect(linesOf(result.removeJournal, held)).toEqual([]);
    for (const [address, variant] of [
      [moving, fixtureVariants.generic],
      [held, fixtureVariants.subsys],
    ] as const) {
      const note = `${address}: on ${variant.driver}: ${variant.driver} stays until it is unbound or the system reboots, but module ${variant.module} is no longer installed for this kernel; the next boot gives the device ${genericVfio.module}`;
      expect(result.statusAfterRemove.stderr).toContain(note);
      expect(result.checkAfterRemove.stderr).toContain(`notice: ${note}`);
    }
  });
});
