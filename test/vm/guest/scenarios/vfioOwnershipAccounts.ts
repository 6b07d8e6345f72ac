/**
 * Owner= with the accounts systemd's udevd treats differently (258 and 259 drop an OWNER=
 * or GROUP= naming a non-system account with its whole line; 260 and later take it with a
 * warning). After vfio-ownership, on the same NVMe (00:07.0), back on nvme:
 *
 *   - a group-only claim (`--owner root:<system group>`, Mode 0660): after a udev-driven
 *     bind the node is root:<group> 0660, and a regular user in that group opens it;
 *   - a regular user (uid above SYS_UID_MAX): `claim --owner` refuses it, and `check`
 *     names the Owner= line of a claim file that gives it.
 */
import * as fs from "node:fs";
import { bootDevices } from "../../shared/machineLayout.js";
import type { JournalWindow } from "../../shared/protocol.js";
import {
  journalMark,
  journalWindow,
  readDevice,
  runCommand,
  runTool,
  udevSettle,
  type CommandRun,
} from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { openNodeAs, statNode, type NodeStat } from "./vfioNodes.js";

export const VMTEST_GROUP = "vmtestvfio";
export const VMTEST_REGULAR_USER = "vmtestuser";
/** Where the hand-written claim with the regular user goes, for `check` to judge. */
export const REGULAR_USER_CLAIM_FILE = "/etc/vfio-autobind/80-vmtest-regular-user.conf";

export interface VfioOwnershipAccountsResult {
  readonly regularUid: number | null;
  readonly groupGid: number | null;
  readonly groupClaim: CommandRun;
  readonly trigger: CommandRun;
  /** The journal around the trigger: its one helper run and line (udev.test.ts counts them). */
  readonly window: JournalWindow;
  readonly driverAfterBind: string | null;
  readonly groupNode: NodeStat | null;
  /** The regular user, with the group as a supplementary group, as a VMM's user would be. */
  readonly openInGroup: CommandRun;
  /** The same user without the group. */
  readonly openOutsideGroup: CommandRun;
  readonly groupRelease: CommandRun;
  readonly groupUnclaim: CommandRun;
  readonly regularUserClaim: CommandRun;
  readonly regularUserCheck: CommandRun;
}

export const vfioOwnershipAccounts = defineScenario<VfioOwnershipAccountsResult>({
  name: "vfio-ownership-accounts",
  run({ log }) {
    const address = bootDevices.nvme.address;
    runCommand(log, ["groupadd", "--system", VMTEST_GROUP]);
    // A login user: useradd without --system takes a uid above SYS_UID_MAX.
    runCommand(log, ["useradd", "--no-create-home", "--user-group", "--groups", VMTEST_GROUP, VMTEST_REGULAR_USER]);
    const id = (args: readonly string[]): number | null => {
      const run = runCommand(log, args);
      return run.exitCode === 0 ? Number(run.stdout.trim().split(":")[2] ?? run.stdout.trim()) : null;
    };
    const regularUid = id(["id", "-u", VMTEST_REGULAR_USER]);
    const groupGid = id(["getent", "group", VMTEST_GROUP]);
    const node = `/dev/vfio/${readDevice(address).iommuGroup}`;

    const groupClaim = runTool(log, ["claim", address, "--owner", `root:${VMTEST_GROUP}`, "--mode", "0660"]);
    const mark = journalMark();
    const trigger = runCommand(log, ["udevadm", "trigger", "--action=add", `/sys/bus/pci/devices/${address}`]);
    udevSettle(log);
    const window = journalWindow(mark);
    const driverAfterBind = readDevice(address).driver;
    const groupNode = statNode(node);
    const openInGroup = openNodeAs(log, node, VMTEST_REGULAR_USER, [VMTEST_GROUP]);
    const openOutsideGroup = openNodeAs(log, node, VMTEST_REGULAR_USER, []);
    const groupRelease = runTool(log, ["release", address]);
    udevSettle(log);
    const groupUnclaim = runTool(log, ["unclaim", address]);

    const regularUserClaim = runTool(log, ["claim", address, "--owner", VMTEST_REGULAR_USER, "--mode", "0660"]);
    fs.writeFileSync(REGULAR_USER_CLAIM_FILE, `[Claim]\nAddress=${address}\nOwner=${VMTEST_REGULAR_USER}\nMode=0660\n`);
    const regularUserCheck = runTool(log, ["check"]);
    fs.rmSync(REGULAR_USER_CLAIM_FILE);
    return {
      regularUid,
      groupGid,
      groupClaim,
      trigger,
      window,
      driverAfterBind,
      groupNode,
      openInGroup,
      openOutsideGroup,
      groupRelease,
      groupUnclaim,
      regularUserClaim,
      regularUserCheck,
    };
  },
});
