import { expect, it } from "vitest";
import { genericVfio } from "./shared/machineLayout.js";
import {
  REGULAR_USER_CLAIM_FILE,
  VMTEST_REGULAR_USER,
  type VfioOwnershipAccountsResult,
} from "./guest/scenarios/vfioOwnershipAccounts.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

describeVm("Owner= with a group-only claim and with a regular user, on the release's udevd", () => {
  const result = scenarioResult<VfioOwnershipAccountsResult>("vfio-ownership-accounts");

  it("a group-only claim (root:<system group>, 0660) gives the node to the group after a udev-driven bind", () => {
    expect(result.groupClaim.exitCode).toBe(0);
    expect(result.trigger.exitCode).toBe(0);
    expect(result.driverAfterBind).toBe(genericVfio.driver);
    expect(result.groupGid).not.toBeNull();
    expect(result.groupNode).toMatchObject({ uid: 0, gid: result.groupGid, mode: "0660" });
  });

  it("a regular user in that group opens the node; without the group it cannot", () => {
    expect(result.openInGroup.exitCode).toBe(0);
    expect(result.openInGroup.stdout).toContain("opened");
    expect(result.openOutsideGroup.exitCode).not.toBe(0);
    expect(result.openOutsideGroup.stderr).toContain("EACCES");
    expect(result.groupRelease.exitCode).toBe(0);
    expect(result.groupUnclaim.exitCode).toBe(0);
  });

  it("claim --owner refuses a regular user, saying what systemd 258-259 and 260+ do with it", () => {
    expect(result.regularUid).toBeGreaterThan(999);
    expect(result.regularUserClaim.exitCode).toBe(2);
    const line = result.regularUserClaim.stderr.split("\n").find((l) => l.startsWith("vfio-autobind:"));
    expect(line).toBe(
      `vfio-autobind: --owner ${VMTEST_REGULAR_USER}: user ${VMTEST_REGULAR_USER} (uid ${result.regularUid}) is not a system user (SYS_UID_MAX is 999): ` +
        "systemd 258 and 259 ignore OWNER= naming one and drop the whole rule line, so the nodes keep udev's default owner and mode; " +
        "260 and later take it with a deprecation warning. " +
        "Give a system user (useradd --system), or Owner=root:GROUP with a system group the VMM's user belongs to, and Mode=0660",
    );
  });

  it("check names the Owner= line of a claim file that gives a regular user", () => {
    expect(result.regularUserCheck.exitCode).not.toBe(0);
    expect(result.regularUserCheck.stdout + result.regularUserCheck.stderr).toContain(
      `${REGULAR_USER_CLAIM_FILE}:3: Owner=: user ${VMTEST_REGULAR_USER} (uid ${result.regularUid}) is not a system user`,
    );
  });
});
