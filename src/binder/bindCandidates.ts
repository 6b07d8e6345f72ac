/**
 * The candidates a bind tries, in order: the ranked VFIO aliases of the device less the
 * modules the admin forbade, or the one module --driver or Driver= names.
 */
import { normaliseModuleName } from "../alias/aliasRecords.js";
import { RuntimeFailure } from "../errors.js";
import { rankCandidates } from "../alias/rankCandidates.js";
import { describeForbidden, NO_MODULE_POLICY, type ModulePolicy } from "../kmod/modulePolicy.js";
import type { VfioAliasSet } from "../kmod/readVfioAliases.js";
import { isSafeModuleName } from "../paths.js";
import { pinnedModuleRefusal } from "../policy/safetyVerdict.js";
import { moduleOfDriver, pciDriverOfModule, type PciDevice } from "../sysfs/pciDevice.js";
import type { PlannedCandidate } from "./outcomes.js";

/**
 * The candidates in the order they will be tried, or why a pinned driver is refused. Modules
 * the admin forbade (modprobe.d blacklist or install, module_blacklist=) are left out.
 */
export function planCandidates(
  sysfsRoot: string,
  device: PciDevice,
  aliasSet: VfioAliasSet,
  driverOption: string | undefined,
  modulePolicy: ModulePolicy = NO_MODULE_POLICY,
): PlannedCandidate[] | { refusal: string } {
  if (driverOption !== undefined) {
    const module = moduleForName(sysfsRoot, aliasSet, driverOption);
    if (typeof module !== "string") return module;
    const forbidden = modulePolicy.get(module);
    if (forbidden !== undefined) {
      return { refusal: `driver ${driverOption} (module ${module}) is forbidden by ${describeForbidden(forbidden)}` };
    }
    return [{ rank: 1, module, pattern: null, driver: pciDriverOfModule(sysfsRoot, module) }];
  }
  const allowed = rankCandidates(device.modalias, aliasSet.aliases).filter((c) => !modulePolicy.has(c.module));
  return allowed.map((c, i) => ({
    rank: i + 1,
    module: c.module,
    pattern: c.pattern,
    driver: pciDriverOfModule(sysfsRoot, c.module),
  }));
}

/**
 * --driver and Driver= take a module (mlx5_vfio_pci) or a driver name (vfio-pci,
 * xe-vfio-pci); only VFIO drivers. The rules' compiled pins resolve through it too.
 */
export function moduleForName(sysfsRoot: string, aliasSet: VfioAliasSet, name: string): string | { refusal: string } {
  // A malformed name is a bad argument, not a device decision: one line on stderr.
  if (!isSafeModuleName(name))
    throw new RuntimeFailure(`--driver ${JSON.stringify(name)}: not a module or driver name`);
  const vfioModules = new Set(aliasSet.aliases.map((a) => a.module));
  const module = moduleOfDriver(sysfsRoot, name) ?? normaliseModuleName(name);
  const refusal = pinnedModuleRefusal(module, vfioModules);
  return refusal === null ? module : { refusal };
}

export const describeCandidates = (candidates: readonly PlannedCandidate[]): string =>
  candidates
    .map((c) => `${c.rank}. ${c.module}${c.driver !== null && c.driver !== c.module ? ` (driver ${c.driver})` : ""}`)
    .join(", ");
