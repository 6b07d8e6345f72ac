/**
 * The adapter behind policy/moveVerdict.ts: reads what a claimed device's move depends on
 * (its driver's module, the ranking now, its record, who holds its VFIO nodes), and what the
 * next boot would give a device whose driver's module was removed.
 */
import { normaliseModuleName } from "../alias/aliasRecords.js";
import { planCandidates } from "../binder/bindCandidates.js";
import type { BindEnvironment } from "../binder/bindDevice.js";
import { readRecord } from "../binder/stateStore.js";
import type { Claim } from "../config/claimConfig.js";
import { RuntimeFailure } from "../errors.js";
import { moveVerdict, type MoveVerdict } from "../policy/moveVerdict.js";
import { moduleOfDriver, type PciDevice } from "../sysfs/pciDevice.js";
import { findVfioHolders, vfioNodesOf } from "../sysfs/vfioHolders.js";

/** What a move is judged from: the binder's environment, or as much of it as status reads. */
export type MoveSources = Pick<
  BindEnvironment,
  "sysfsRoot" | "procRoot" | "devRoot" | "stateDir" | "aliasSet" | "modulePolicy" | "builtinModules" | "moduleFiles"
>;

/** The module of the driver a device is on (`vfio-pci` -> `vfio_pci`), or null: no driver. */
function currentModuleOf(sysfsRoot: string, device: PciDevice): string | null {
  if (device.driver === null) return null;
  return moduleOfDriver(sysfsRoot, device.driver) ?? normaliseModuleName(device.driver);
}

/** The candidate modules now, in rank order. */
function rankedModulesOf(sources: MoveSources, device: PciDevice): string[] {
  const planned = planCandidates(sources.sysfsRoot, device, sources.aliasSet, undefined, sources.modulePolicy);
  return Array.isArray(planned) ? planned.map((c) => c.module) : [];
}

const bestModuleOf = (sources: MoveSources, device: PciDevice): string | null =>
  rankedModulesOf(sources, device)[0] ?? null;

export function moveVerdictFor(sources: MoveSources, device: PciDevice, claim: Claim, automatic: boolean): MoveVerdict {
  if (claim.driver !== "auto" || !device.hasVfioDev || device.driver === null) return { kind: "stay" };
  const ranked = rankedModulesOf(sources, device);
  const best = ranked[0] ?? null;
  const currentModule = currentModuleOf(sources.sysfsRoot, device);
  if (best === null || best === currentModule) return { kind: "stay" };
  let record = null;
  try {
    record = readRecord(sources.stateDir, device.address);
  } catch (error) {
    // An unreadable record is status's to report; the move is judged as if there were none.
    if (!(error instanceof RuntimeFailure)) throw error;
  }
  return moveVerdict({
    device,
    currentModule,
    claim,
    best,
    currentRanked: currentModule !== null && ranked.includes(currentModule),
    bestInstalledAt: sources.moduleFiles?.installedAt(best) ?? null,
    record,
    holders: findVfioHolders(sources, vfioNodesOf(sources.sysfsRoot, device)),
    automatic,
  });
}

/**
 * A device on a VFIO driver whose module is gone from this kernel's modules.alias (its
 * package removed, its DKMS module uninstalled): it stays on the loaded driver now, and the
 * next boot gives it another. Null when its module is still there.
 */
export function removedDriverNote(sources: MoveSources, device: PciDevice): string | null {
  if (!device.hasVfioDev || sources.aliasSet.fallback) return null;
  const current = currentModuleOf(sources.sysfsRoot, device);
  if (current === null || sources.builtinModules.has(current)) return null;
  if (sources.aliasSet.aliases.some((a) => a.module === current)) return null;
  const next = bestModuleOf(sources, device);
  return `${device.driver ?? current} stays until it is unbound or the system reboots, but module ${current} is no longer installed for this kernel; the next boot gives the device ${next === null ? "no VFIO driver (it goes to the kernel's choice)" : next}`;
}
