/**
 * What the machine does not follow yet although the claims are valid: rules generated from
 * another config, decisions compiled for another kernel, an initramfs holding other claims,
 * a claimed device on a host driver (libvirt gave it back). Each is one line naming the
 * command that brings it up to date, and so is each claimed device whose driver changes at
 * the next apply (a better one installed) or boot (its own removed). `check` prints them as
 * notices (failures with --applied), `status` reports them, `apply` the initramfs one.
 */
import { listRecords } from "../binder/stateStore.js";
import type { LoadedConfig } from "../config/readClaimConfig.js";
import { staleInitramfsReason } from "../hold/initramfsStamp.js";
import { compileDecisions } from "../rules/compileDecisions.js";
import { otherVersionReason, staleDecisionsReason, staleRulesReason } from "../rules/writeClaimRules.js";
import type { CommandContext } from "./commandContext.js";
import {
  claimedOnHostDriver,
  claimedOnHostDriverLine,
  type ClaimedOnHostDriver,
} from "../policy/claimedOnHostDriver.js";
import { presentDevices, quietDecisionSources } from "./machineConfig.js";
import { moveVerdictFor, removedDriverNote, type MoveSources } from "../apply/driverChanges.js";
import type { PciDevice } from "../sysfs/pciDevice.js";
import { moduleFiles } from "../kmod/moduleFiles.js";
import { readBuiltinModules } from "../kmod/readVfioAliases.js";
import { pendingMoveNote } from "../policy/moveVerdict.js";
import { selectClaim } from "../policy/selectClaim.js";

export interface NotApplied {
  /** Why the installed rules do not follow the config or the running kernel, or null. */
  readonly rules: string | null;
  /** Why the running kernel's initramfs holds other claims, or null (also when it has none). */
  readonly initramfs: string | null;
  /** Claimed devices vfio-autobind bound that are on a host driver now; apply takes them back. */
  readonly onHostDriver: readonly ClaimedOnHostDriver[];
  /** Claimed devices whose driver changes at the next apply or boot (a better one, or theirs removed). */
  readonly driverChanges: readonly string[];
  /** All of them as the admin reads them, each labelled. */
  readonly lines: readonly string[];
}

/**
 * What changes for a claimed device on a VFIO driver: the better driver it waits for (and
 * why it waits), or the driver the next boot gives it when its own module was removed.
 * Null: nothing changes, or it is not claimed.
 */
export function driverChangeOf(
  context: CommandContext,
  config: LoadedConfig,
  device: PciDevice,
  sources: MoveSources = moveSources(context),
): string | null {
  if (config.errors.length > 0 || !device.hasVfioDev) return null;
  const selection = selectClaim(config, device);
  if (selection.kind !== "claimed") return null;
  return (
    removedDriverNote(sources, device) ??
    pendingMoveNote(moveVerdictFor(sources, device, selection.claim, false), selection.claim)
  );
}

function moveSources(context: CommandContext): MoveSources {
  return {
    ...quietDecisionSources(context),
    devRoot: context.devRoot,
    stateDir: context.stateDir,
    builtinModules: readBuiltinModules(context.modulesDir),
    moduleFiles: moduleFiles(context.modulesDir),
  };
}

/** driverChangeOf for every device present, one line each. */
export function driverChanges(context: CommandContext, config: LoadedConfig): string[] {
  if (config.errors.length > 0) return [];
  const sources = moveSources(context);
  return presentDevices(context.sysfsRoot).flatMap((device) => {
    const note = driverChangeOf(context, config, device, sources);
    return note === null ? [] : [`${device.address}: on ${device.driver ?? "(none)"}: ${note}`];
  });
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
        otherVersionReason(context.rulesFile) ??
        staleDecisionsReason(context.rulesFile, () => compileDecisions(quietDecisionSources(context))));
  const initramfs = staleInitramfsReason(context, config);
  const onHostDriver = claimedOnHostDriver(
    config,
    presentDevices(context.sysfsRoot),
    listRecords(context.stateDir).records,
  );
  const changes = driverChanges(context, config);
  return {
    rules,
    initramfs,
    onHostDriver,
    driverChanges: changes,
    lines: [
      ...changes,
      ...(rules === null ? [] : [`generated rules are stale: ${rules}`]),
      ...(initramfs === null ? [] : [initramfsLine(initramfs)]),
      ...onHostDriver.map(claimedOnHostDriverLine),
    ],
  };
}
