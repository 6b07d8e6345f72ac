import { expect, it } from "vitest";
import { bootDevices } from "./shared/machineLayout.js";
import { GUEST_RULES_FILE } from "./shared/udevClaims.js";
import { OLD_GENERATOR, type PackageUpgradeResult } from "./guest/scenarios/packageUpgrade.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

describeVm("scenario: vfio-autobind's own package upgraded with apt while a claim is applied", () => {
  const result = scenarioResult<PackageUpgradeResult>("package-upgrade");
  const device = bootDevices.blkVariant.address;

  it("starts with the claimed device bound and an older build installed over the current one", () => {
    expect(result.applied.exitCode, result.applied.stderr).toBe(0);
    expect(result.before.find((d) => d.address === device)?.driver).toMatch(/vfio/);
    expect(result.downgrade.exitCode, result.downgrade.stderr).toBe(0);
    expect(result.downgrade.stdout).toContain(
      `Unpacking vfio-autobind (${result.version}~older) over (${result.version})`,
    );
    expect(result.generatorAfterDowngrade).toBe(`# generator: vfio-autobind ${result.version}`);
  });

  it("check names rules another version wrote", () => {
    expect(result.checkWithOldRules.stderr).toContain(
      `${GUEST_RULES_FILE} was written by vfio-autobind ${OLD_GENERATOR}, this is ${result.version}`,
    );
  });

  it("the upgrade regenerates the rules with its own compiler, and check is content", () => {
    expect(result.upgrade.exitCode, result.upgrade.stderr).toBe(0);
    expect(result.upgrade.stdout).toContain(
      `Unpacking vfio-autobind (${result.version}) over (${result.version}~older)`,
    );
    expect(result.generatorAfterUpgrade).toBe(`# generator: vfio-autobind ${result.version}`);
    expect(result.checkAfterUpgrade.exitCode, result.checkAfterUpgrade.stderr).toBe(0);
    expect(result.checkAfterUpgrade.stderr).not.toContain("was written by");
  });

  it("binds, releases and moves nothing", () => {
    const drivers = (devices: typeof result.before): [string, string | null][] =>
      devices.map((d) => [d.address, d.driver]);
    expect(drivers(result.after)).toEqual(drivers(result.before));
    expect(result.upgradeJournal.tool.map((e) => e.message)).toEqual([]);
  });
});
