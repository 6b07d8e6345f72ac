/**
 * The claims as this machine judges them, for every command that reads them (claim,
 * unclaim, check, apply, status, hold-script): the config's own errors, and those it has
 * only here (Owner= accounts, IOMMU groups given two owners, devices the host uses).
 */
import { ConfigInvalid, ownershipPlanFor } from "../apply/applyClaims.js";
import { inUseClaimErrors } from "../apply/inUseClaims.js";
import { ownerAccountErrors } from "../config/accounts.js";
import { formatConfigError, type Claim, type ConfigError } from "../config/claimConfig.js";
import { resolveAccounts } from "../config/resolveAccounts.js";
import { readClaimConfig, type LoadedConfig } from "../config/readClaimConfig.js";
import { RuntimeFailure } from "../errors.js";
import { readModulePolicy } from "../kmod/readModulePolicy.js";
import { readVfioAliases } from "../kmod/readVfioAliases.js";
import { hasPciBus, listPciDeviceNames, readPciDevice, type PciDevice } from "../sysfs/pciDevice.js";
import type { DecisionSources } from "../rules/compileDecisions.js";
import type { CommandContext } from "./commandContext.js";

/** What the rules' decisions are compiled from, read without warnings (status and check only report staleness). */
export function quietDecisionSources(context: CommandContext): DecisionSources {
  return {
    sysfsRoot: context.sysfsRoot,
    procRoot: context.procRoot,
    aliasSet: readVfioAliases(context.modulesDir, { lineNumbers: false }),
    modulePolicy: readModulePolicy(context.modprobeRoot, context.procRoot).policy,
  };
}

/** The devices present now (none without a PCI bus); one that cannot be read is left out (list reports it). */
export function presentDevices(sysfsRoot: string): PciDevice[] {
  const devices: PciDevice[] = [];
  if (!hasPciBus(sysfsRoot)) return devices;
  for (const address of listPciDeviceNames(sysfsRoot)) {
    try {
      devices.push(readPciDevice(sysfsRoot, address));
    } catch (error) {
      if (!(error instanceof RuntimeFailure)) throw error;
    }
  }
  return devices;
}

/**
 * The errors a config has on this machine beyond its text: Owner= accounts udev would not
 * apply (none, or not a system account), IOMMU groups whose claimed devices are given different owners, and claims (without
 * Force=yes) on devices the host uses now.
 */
export async function machineConfigErrors(context: CommandContext, config: LoadedConfig): Promise<ConfigError[]> {
  if (config.errors.length > 0) return [];
  return [
    ...(await ownerErrors(context, config.claims)),
    ...ownershipPlanFor(config, context.sysfsRoot).errors,
    ...inUseClaimErrors(config, presentDevices(context.sysfsRoot), context.procRoot),
  ];
}

/** Owner= users and groups udev would not apply (src/config/accounts.ts), looked up as udevd does. */
export async function ownerErrors(context: CommandContext, claims: readonly Claim[]): Promise<ConfigError[]> {
  return ownerAccountErrors(claims, await resolveAccounts(claims, context));
}

/** Every error of a config: its own, then this machine's. */
export async function configErrors(context: CommandContext, config: LoadedConfig): Promise<ConfigError[]> {
  return [...config.errors, ...(await machineConfigErrors(context, config))];
}

/** The config, refused (ConfigInvalid) when it has errors, on this machine included. */
export async function loadValidConfig(context: CommandContext): Promise<LoadedConfig> {
  const config = readClaimConfig(context.configDir);
  const errors = await configErrors(context, config);
  if (errors.length > 0) throw new ConfigInvalid(errors.map(formatConfigError));
  return config;
}
