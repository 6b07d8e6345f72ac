/**
 * What the machine does not follow yet although the claims are valid: rules generated from
 * another config, decisions compiled for another kernel, an initramfs holding other claims,
 * a claimed device on a host driver (libvirt gave it back). Each is one line naming the
 * command that brings it up to date. `check` prints them as notices (failures with
 * --applied), `status` reports them, `apply` the initramfs one.
 */
import { listRecords } from "../binder/stateStore.js";
import type { LoadedConfig } from "../config/readClaimConfig.js";
import { staleInitramfsReason } from "../hold/initramfsStamp.js";
import { compileDecisions } from "../udev/compileDecisions.js";
import { staleDecisionsReason, staleRulesReason } from "../udev/writeClaimRules.js";
import type { CommandContext } from "./commandContext.js";
import {
  claimedOnHostDriver,
  claimedOnHostDriverLine,
  type ClaimedOnHostDriver,
} from "../policy/claimedOnHostDriver.js";
import { presentDevices, quietDecisionSources } from "./machineConfig.js";

export interface NotApplied {
  /** Why the installed rules do not follow the config or the running kernel, or null. */
  readonly rules: string | null;
  /** Why the running kernel's initramfs holds other claims, or null (also when it has none). */
  readonly initramfs: string | null;
  /** Claimed devices vfio-autobind bound that are on a host driver now; apply takes them back. */
  readonly onHostDriver: readonly ClaimedOnHostDriver[];
  /** All of them as the admin reads them, each labelled. */
  readonly lines: readonly string[];
}

const initramfsLine = (reason: string): string => `the initramfs holds are stale: ${reason}`;

/** The running kernel's initramfs against the config, as a line, or null. */
export function staleInitramfsLine(context: CommandContext, config: LoadedConfig): string | null {
  const reason = staleInitramfsReason(context, config);
  return reason === null ? null : initramfsLine(reason);
}

export function notAppliedYet(context: CommandContext, config: LoadedConfig): NotApplied {
  // A config with errors is never applied: that, not the rules' age, is what to fix.
  const rules =
    config.errors.length > 0
      ? `${config.errors.length} config error(s); run "vfio-autobind check"`
      : (staleRulesReason(context.rulesFile, config) ??
        staleDecisionsReason(context.rulesFile, () => compileDecisions(quietDecisionSources(context))));
  const initramfs = staleInitramfsReason(context, config);
  const onHostDriver = claimedOnHostDriver(
    config,
    presentDevices(context.sysfsRoot),
    listRecords(context.stateDir).records,
  );
  return {
    rules,
    initramfs,
    onHostDriver,
    lines: [
      ...(rules === null ? [] : [`generated rules are stale: ${rules}`]),
      ...(initramfs === null ? [] : [initramfsLine(initramfs)]),
      ...onHostDriver.map(claimedOnHostDriverLine),
    ],
  };
}
