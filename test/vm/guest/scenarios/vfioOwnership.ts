/**
 * A claim with Owner= and Mode= hands the device's VFIO nodes to an unprivileged
 * user through the generated udev rules. The boot NVMe (00:07.0), back on nvme after
 * vfio-holders, is claimed with --owner/--mode and bound by a udev add event; a user made
 * here opens /dev/vfio/<group> after the bind, and could not before (no node, and a node
 * of a device claimed without Owner= stays root-only). `release` takes the node away.
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
  type GuestLog,
} from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { openNodeAs, statNode, type NodeStat } from "./vfioNodes.js";

export const VMTEST_USER = "vmtestvmm";

export interface VfioOwnershipResult {
  readonly uid: number | null;
  readonly gid: number | null;
  /** Bound by hand with no claim: udev's default ownership, and the user's open of it. */
  readonly defaultBind: CommandRun;
  readonly defaultNode: NodeStat | null;
  readonly openDefault: CommandRun;
  readonly defaultRelease: CommandRun;
  readonly claimUnknownUser: CommandRun;
  readonly claim: CommandRun;
  readonly rules: string;
  readonly openBefore: CommandRun;
  readonly trigger: CommandRun;
  readonly window: JournalWindow;
  readonly driverAfterBind: string | null;
  readonly groupNode: NodeStat | null;
  readonly cdev: NodeStat | null;
  readonly status: CommandRun;
  readonly openAfter: CommandRun;
  readonly release: CommandRun;
  readonly groupNodeAfterRelease: NodeStat | null;
  readonly unclaim: CommandRun;
}

/** Opens `node` read-write as the test user, as an unprivileged VMM would. */
const openAs = (log: GuestLog, node: string): CommandRun => openNodeAs(log, node, VMTEST_USER, []);

export const vfioOwnership = defineScenario<VfioOwnershipResult>({
  name: "vfio-ownership",
  run({ log }) {
    const address = bootDevices.nvme.address;
    // A system account: udev 258 and 259 drop an OWNER= naming any other, and claim refuses one.
    runCommand(log, ["useradd", "--system", "--no-create-home", "--user-group", VMTEST_USER]);
    const id = (flag: string): number | null => {
      const run = runCommand(log, ["id", flag, VMTEST_USER]);
      return run.exitCode === 0 ? Number(run.stdout.trim()) : null;
    };
    const uid = id("-u");
    const gid = id("-g");
    const group = readDevice(address).iommuGroup;
    const node = `/dev/vfio/${group}`;
    // First without a claim: the node udev makes by default, which the user cannot open.
    const defaultBind = runTool(log, ["bind", address]);
    udevSettle(log);
    const defaultNode = statNode(node);
    const openDefault = openAs(log, node);
    const defaultRelease = runTool(log, ["release", address]);
    udevSettle(log);
    const claimUnknownUser = runTool(log, ["claim", address, "--owner", "nosuchuser-vmtest", "--mode", "0660"]);
    const claim = runTool(log, ["claim", address, "--owner", `${VMTEST_USER}:${VMTEST_USER}`, "--mode", "0660"]);
    const rules = fs.readFileSync("/etc/udev/rules.d/69-vfio-autobind-claims.rules", "utf8");
    const openBefore = openAs(log, node);
    const mark = journalMark();
    const trigger = runCommand(log, ["udevadm", "trigger", "--action=add", `/sys/bus/pci/devices/${address}`]);
    udevSettle(log);
    const window = journalWindow(mark);
    const after = readDevice(address);
    let cdevPath: string | null = null;
    try {
      const dir = `/sys/bus/pci/devices/${address}/vfio-dev`;
      const name = fs.readdirSync(dir).find((n) => fs.existsSync(`${dir}/${n}/dev`));
      cdevPath = name === undefined ? null : `/dev/vfio/devices/${name}`;
    } catch {
      cdevPath = null;
    }
    const groupNode = statNode(node);
    const cdev = statNode(cdevPath);
    const status = runTool(log, ["status", "--json"]);
    const openAfter = openAs(log, node);
    const release = runTool(log, ["release", address]);
    udevSettle(log);
    const groupNodeAfterRelease = statNode(node);
    const unclaim = runTool(log, ["unclaim", address]);
    return {
      uid,
      gid,
      defaultBind,
      defaultNode,
      openDefault,
      defaultRelease,
      claimUnknownUser,
      claim,
      rules,
      openBefore,
      trigger,
      window,
      driverAfterBind: after.driver,
      groupNode,
      cdev,
      status,
      openAfter,
      release,
      groupNodeAfterRelease,
      unclaim,
    };
  },
});
