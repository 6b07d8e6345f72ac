/**
 * Issue scenario 4: a claim made at run time (`vfio-autobind claim ADDRESS`, which writes
 * the claim file, regenerates the rules and reloads udev) takes effect through
 * `udevadm trigger --action=add --subsystem-match=pci`; a second trigger changes nothing;
 * `unclaim` then `apply` gives the device back. Every trigger re-runs the helper for every
 * claimed device present, so both windows also cover the devices claimed earlier.
 */
import * as fs from "node:fs";
import { udevBootDevices } from "../../shared/machineLayout.js";
import type { DeviceState, JournalWindow } from "../../shared/protocol.js";
import { GUEST_RULES_FILE } from "../../shared/udevClaims.js";
import {
  journalMark,
  journalWindow,
  listDevices,
  runCommand,
  runTool,
  udevSettle,
  type CommandRun,
  type GuestLog,
} from "../guestSystem.js";
import { defineScenario } from "../scenario.js";

export interface TriggerStep {
  readonly trigger: CommandRun;
  readonly settle: CommandRun;
  readonly devices: readonly DeviceState[];
  readonly window: JournalWindow;
}

export interface UdevTriggerResult {
  readonly address: string;
  readonly before: readonly DeviceState[];
  readonly claim: CommandRun;
  readonly rulesAfterClaim: string;
  readonly checkAfterClaim: CommandRun;
  readonly first: TriggerStep;
  readonly second: TriggerStep;
  readonly unclaim: CommandRun;
  readonly rulesAfterUnclaim: string;
  readonly apply: CommandRun;
  readonly afterApply: readonly DeviceState[];
  /** From unclaim to the settled end of apply: apply releases by hand, no add event. */
  readonly applyWindow: JournalWindow;
  readonly checkAfterApply: CommandRun;
}

function triggerStep(log: GuestLog): TriggerStep {
  const mark = journalMark();
  const trigger = runCommand(log, ["udevadm", "trigger", "--action=add", "--subsystem-match=pci"]);
  const settle = udevSettle(log);
  return { trigger, settle, devices: listDevices(), window: journalWindow(mark) };
}

export const udevTrigger = defineScenario<UdevTriggerResult>({
  name: "udev-trigger",
  run({ log }) {
    const address = udevBootDevices.blkLateClaim.address;
    const before = listDevices();
    const claim = runTool(log, ["claim", address]);
    const rulesAfterClaim = fs.readFileSync(GUEST_RULES_FILE, "utf8");
    const checkAfterClaim = runTool(log, ["check"]);
    const first = triggerStep(log);
    const second = triggerStep(log);
    const mark = journalMark();
    const unclaim = runTool(log, ["unclaim", address]);
    const rulesAfterUnclaim = fs.readFileSync(GUEST_RULES_FILE, "utf8");
    const apply = runTool(log, ["apply"]);
    udevSettle(log);
    const afterApply = listDevices();
    const applyWindow = journalWindow(mark);
    return {
      address,
      before,
      claim,
      rulesAfterClaim,
      checkAfterClaim,
      first,
      second,
      unclaim,
      rulesAfterUnclaim,
      apply,
      afterApply,
      applyWindow,
      checkAfterApply: runTool(log, ["check"]),
    };
  },
});
