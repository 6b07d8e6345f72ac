/**
 * `apply`: make the machine match the config now. Regenerates the udev claim rules, binds
 * every claimed device that is not on its VFIO driver, releases every device vfio-autobind
 * bound that no claim selects any more, and keeps new VFs of claimed PFs off their host
 * driver (sriov_drivers_autoprobe) so they need no bind-then-unbind at creation.
 * A config with errors changes nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { bindClaimed } from "../binder/bindClaimed.js";
import { bindDevice, type BindEnvironment } from "../binder/bindDevice.js";
import { planOf, succeeded } from "../binder/outcomes.js";
import { releaseDevice } from "../binder/releaseDevice.js";
import { listRecords } from "../binder/stateStore.js";
import { formatConfigError, type Claim } from "../config/claimConfig.js";
import type { LoadedConfig } from "../config/readClaimConfig.js";
import { describeFsError, RuntimeFailure } from "../errors.js";
import { isHold } from "../policy/hold.js";
import { moveReason, pendingMoveNote } from "../policy/moveVerdict.js";
import { moveVerdictFor } from "./driverChanges.js";
import { planNodeOwnership, type OwnershipPlan } from "../policy/nodeOwnership.js";
import { selectClaim } from "../policy/selectClaim.js";
import { readRegularFile, writeFileAtomic } from "../files/safeFiles.js";
import { generatedPaths, isSafePciAddress, statePaths, sysfsPaths } from "../paths.js";
import { generateHoldScript } from "../hold/holdScript.js";
import { replacedHoldScript, writeHoldScript } from "../hold/writeHoldScript.js";
import { hasPciBus, listPciDeviceNames, pciDevicesDir, readPciDevice } from "../sysfs/pciDevice.js";
import { readVfAddresses } from "../sysfs/sriovLayout.js";
import { generateClaimRules } from "../rules/claimRules.js";
import { compileDecisions, type DecisionSources } from "../rules/compileDecisions.js";
import { replacedRulesText, writeClaimRules } from "../rules/writeClaimRules.js";
import { plannedFileChange } from "./plannedFileChange.js";

export interface ApplyContext {
  readonly config: LoadedConfig;
  readonly configDir: string;
  readonly rulesFile: string;
  readonly env: BindEnvironment;
  readonly dryRun: boolean;
  /**
   * Only move claimed devices on a VFIO driver to a better one installed since (the path
   * unit and the package triggers, after a module was installed): nothing else is bound or
   * released, so an edited claim file is not acted on behind the admin's back.
   */
  readonly movesOnly?: boolean;
  reloadUdev(): Promise<string | null>;
}

export interface ApplyReport {
  readonly lines: string[];
  readonly warnings: string[];
  readonly failed: boolean;
}

export class ConfigInvalid extends RuntimeFailure {
  constructor(readonly errors: readonly string[]) {
    super(`the config has ${errors.length} error(s); nothing was changed:\n${errors.join("\n")}`);
  }
}

/**
 * Owner= and Mode= for the claimed devices present now (a device that cannot be read is
 * left out), with a config error for each IOMMU group that claims give different owners.
 */
export function ownershipPlanFor(
  config: Pick<LoadedConfig, "claims" | "exclusions">,
  sysfsRoot: string,
): OwnershipPlan {
  if (!config.claims.some((c) => c.owner !== null || c.mode !== null)) return { nodes: [], errors: [] };
  // A chroot or an image build: no device present, so no node to own and no group to clash.
  if (!hasPciBus(sysfsRoot)) return { nodes: [], errors: [] };
  const claimed: { address: string; iommuGroup: string | null; claim: Claim }[] = [];
  for (const address of listPciDeviceNames(sysfsRoot)) {
    let device;
    try {
      device = readPciDevice(sysfsRoot, address);
    } catch (error) {
      if (error instanceof RuntimeFailure) continue;
      throw error;
    }
    const selection = selectClaim(config, device);
    if (selection.kind === "claimed") claimed.push({ address, iommuGroup: device.iommuGroup, claim: selection.claim });
  }
  return planNodeOwnership(claimed);
}

export function claimRulesFor(config: LoadedConfig, configDir: string, sources: DecisionSources): string {
  const sysfsRoot = sources.sysfsRoot;
  const ownership = ownershipPlanFor(config, sysfsRoot);
  if (ownership.errors.length > 0) throw new ConfigInvalid(ownership.errors.map(formatConfigError));
  return generateClaimRules(
    config,
    config.digest,
    configDir,
    (pf) => readVfAddresses(sysfsRoot, pf),
    ownership.nodes,
    compileDecisions(sources),
  );
}

/**
 * Regenerates and installs the rules and the hold script; returns the lines for the admin
 * (none when nothing changed). A dry run writes nothing: it shows, for each file, that it is
 * up to date or the diff apply would make.
 */
export async function installClaimRules(
  context: Pick<ApplyContext, "config" | "configDir" | "rulesFile" | "dryRun" | "reloadUdev"> & {
    sources: DecisionSources;
  },
  warnings: string[],
): Promise<string[]> {
  if (context.config.errors.length > 0) throw new ConfigInvalid(context.config.errors.map(formatConfigError));
  const rules = claimRulesFor(context.config, context.configDir, context.sources);
  // The boot-time hold, from the same config as the rules (vfio-autobind-hold.service runs it).
  const holdScript = generateHoldScript(context.config, context.config.digest);
  const holdScriptFile = generatedPaths(context.configDir).holdScript;
  if (context.dryRun)
    return [
      ...plannedFileChange("rules", context.rulesFile, replacedRulesText(context.rulesFile), rules),
      ...plannedFileChange("hold script", holdScriptFile, replacedHoldScript(holdScriptFile), holdScript),
    ];
  const holdWritten = writeHoldScript(holdScriptFile, holdScript);
  if (!writeClaimRules(context.rulesFile, rules)) return holdWritten ? [`wrote ${holdScriptFile}`] : [];
  const warning = await context.reloadUdev();
  if (warning !== null) warnings.push(warning);
  return [`wrote ${context.rulesFile}`];
}

export async function applyClaims(context: ApplyContext): Promise<ApplyReport> {
  const { config, env } = context;
  const lines: string[] = [];
  const warnings: string[] = [];
  let failed = false;

  lines.push(...(await installClaimRules({ ...context, sources: env }, warnings)));
  if (!hasPciBus(env.sysfsRoot)) {
    // A chroot or an image build: the rules are what the first boot needs; nothing to bind.
    lines.push(noPciBusLine(env.sysfsRoot));
    return { lines, warnings, failed: false };
  }

  if (context.movesOnly === true) return { lines, warnings, failed: await moveToBetterDrivers(context, lines) };
  failed = applyVfAutoprobe(context, lines) || failed;

  const isClaimed = (device: Parameters<typeof selectClaim>[1]): boolean =>
    selectClaim(config, device).kind === "claimed";
  const ours = new Map(listRecords(env.stateDir).records.map((r) => [r.address, r]));
  const handled = new Set<string>();
  for (const address of listPciDeviceNames(env.sysfsRoot)) {
    if (handled.has(address)) continue;
    const device = readPciDevice(env.sysfsRoot, address);
    const selection = selectClaim(config, device);
    if (selection.kind === "claimed") {
      // Said before binding: after it, the device is on the new driver and the reason is gone.
      const verdict = device.driver === null ? null : moveVerdictFor(env, device, selection.claim, false);
      const outcomes = await bindClaimed(address, selection.claim, env, { dryRun: context.dryRun, isClaimed });
      for (const outcome of outcomes) {
        handled.add(outcome.address);
        if (outcome.status === "already-bound") continue;
        const moved = outcome.address === address && verdict?.kind === "move";
        lines.push(moved ? `${outcome.message}; ${moveReason(verdict, device.driver ?? "(none)")}` : outcome.message);
        for (const step of planOf(outcome)) lines.push(`  ${step}`);
        if (!succeeded(outcome)) failed = true;
      }
    } else if (ours.has(address) || (device.driver === null && isHold(device.driverOverride))) {
      // A record, or a hold nobody replaced: both are ours to give back.
      const why = selection.kind === "excluded" ? "excluded" : "no longer claimed";
      const result = await releaseDevice({ address, force: false, dryRun: context.dryRun }, env);
      lines.push(`${result.message} (${why})`);
      for (const step of result.plan ?? []) lines.push(`  ${step}`);
      if (!succeeded(result)) failed = true;
    }
  }
  return { lines, warnings, failed };
}

/**
 * `apply --moves-only`: each claimed device on a VFIO driver that is no longer its best
 * moves to the best one, through bind (read-back, fallback, restore), unless its verdict
 * says it waits (policy/moveVerdict.ts). One line per device that moves or waits.
 */
async function moveToBetterDrivers(context: ApplyContext, lines: string[]): Promise<boolean> {
  const { config, env } = context;
  let failed = false;
  for (const address of listPciDeviceNames(env.sysfsRoot)) {
    const device = readPciDevice(env.sysfsRoot, address);
    const selection = selectClaim(config, device);
    if (selection.kind !== "claimed") continue;
    const verdict = moveVerdictFor(env, device, selection.claim, true);
    if (verdict.kind !== "move") {
      const note = pendingMoveNote(verdict, selection.claim);
      if (note !== null) lines.push(`${address}: stays on ${device.driver ?? "(none)"}: ${note}`);
      continue;
    }
    const outcome = await bindDevice(
      { address, dryRun: context.dryRun, force: selection.claim.force, noFallback: false, seen: device },
      env,
    );
    if (outcome.status === "already-bound") continue;
    lines.push(`${outcome.message}; ${moveReason(verdict, device.driver ?? "(none)")}`);
    for (const step of planOf(outcome)) lines.push(`  ${step}`);
    if (!succeeded(outcome)) failed = true;
  }
  return failed;
}

/**
 * For each PF named by VfsOf=, new VFs should appear without a host driver: set
 * sriov_drivers_autoprobe to 0 and remember the old value; put it back for PFs no
 * claim names any more. The records are state read back from disk: only entries whose
 * name is a PCI address and whose content is 0 or 1 are acted on; anything else is
 * reported and left alone.
 */
function applyVfAutoprobe(context: ApplyContext, lines: string[]): boolean {
  const { env } = context;
  const wanted = new Set(context.config.claims.flatMap((c) => c.selectors.vfsOf));
  const state = statePaths(env.stateDir);
  const sys = sysfsPaths(env.sysfsRoot);
  let failed = false;

  for (const pf of wanted) {
    let current: string;
    try {
      current = fs.readFileSync(sys.sriovAutoprobe(pf), "utf8").trim();
    } catch {
      continue; // no such PF (yet), or no SR-IOV: the claim's rules still cover its VFs
    }
    if (current === "0") continue;
    if (context.dryRun) {
      lines.push(`${pf}: would set sriov_drivers_autoprobe to 0 so new VFs wait for vfio-autobind`);
      continue;
    }
    try {
      if (!AUTOPROBE_VALUE.test(current)) throw new Error(`it reads ${JSON.stringify(current.slice(0, 20))}`);
      writeFileAtomic(state.autoprobeRecord(pf), `${current}\n`, { mode: 0o644, dirMode: 0o755 });
      env.kernel.writeAttribute(sys.sriovAutoprobe(pf), "0");
      lines.push(`${pf}: set sriov_drivers_autoprobe to 0 so new VFs wait for vfio-autobind`);
    } catch (error) {
      lines.push(`${pf}: could not set sriov_drivers_autoprobe: ${describeFsError(error)}`);
      failed = true;
    }
  }
  let names: string[] = [];
  try {
    names = fs.readdirSync(state.sriov).filter((n) => n.endsWith(AUTOPROBE_SUFFIX));
  } catch {
    // nothing recorded
  }
  for (const name of names) {
    const pf = name.slice(0, -AUTOPROBE_SUFFIX.length);
    if (!isSafePciAddress(pf)) {
      lines.push(
        `${path.join(state.sriov, name)}: not a record of vfio-autobind (no PCI address in its name); left alone`,
      );
      continue;
    }
    if (wanted.has(pf)) continue;
    const recordFile = state.autoprobeRecord(pf);
    let original: string;
    try {
      original = readRegularFile(recordFile, { maxBytes: 16 }).trim();
      if (!AUTOPROBE_VALUE.test(original)) throw new Error(`${recordFile}: holds neither 0 nor 1`);
    } catch (error) {
      lines.push(`${pf}: cannot restore sriov_drivers_autoprobe: ${describeFsError(error)}; move the record away`);
      failed = true;
      continue;
    }
    if (context.dryRun) {
      lines.push(`${pf}: would set sriov_drivers_autoprobe back to ${original}`);
      continue;
    }
    try {
      env.kernel.writeAttribute(sys.sriovAutoprobe(pf), original);
      lines.push(`${pf}: set sriov_drivers_autoprobe back to ${original}`);
    } catch (error) {
      // The PF may be gone; either way the record has served its purpose.
      lines.push(`${pf}: could not restore sriov_drivers_autoprobe: ${describeFsError(error)}`);
    }
    fs.rmSync(recordFile, { force: true });
  }
  return failed;
}

const AUTOPROBE_SUFFIX = ".autoprobe";
/** sriov_drivers_autoprobe is a boolean the kernel prints as 0 or 1. */
const AUTOPROBE_VALUE = /^[01]$/;

/** What apply and claim say where there is no PCI bus to act on. */
export function noPciBusLine(sysfsRoot: string): string {
  return `${pciDevicesDir(sysfsRoot)} does not exist (a chroot or an image build?): no device bound or released now; the claims apply when the system boots`;
}
