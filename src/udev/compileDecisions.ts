/**
 * The adapter that gathers what the rules' compiled decisions are made from: the running
 * kernel's release (the rules apply them only on that kernel), its VFIO aliases, the
 * modules the admin forbade, and the PCI driver names of the modules loaded now (a module
 * never loaded has no known name, so its devices stay held for the helper). Anything that
 * cannot be read means no decisions, never wrong ones: every claimed device is then held
 * and the helper decides, as before the rules could.
 */
import type { VfioAliasSet } from "../kmod/readVfioAliases.js";
import type { ModulePolicy } from "../kmod/modulePolicy.js";
import { normaliseModuleName } from "../alias/aliasRecords.js";
import { readOptionalRegularFile } from "../files/safeFiles.js";
import { isSafeDriverName, isSafeKernelRelease, isSafeModuleName, kernelReleaseFile } from "../paths.js";
import { pinnedModuleRefusal } from "../policy/safetyVerdict.js";
import { moduleOfDriver, pciDriverOfModule } from "../sysfs/pciDevice.js";
import type { Decisions } from "./claimRules.js";
import { rankingRules } from "./rankingRules.js";

export interface DecisionSources {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  readonly aliasSet: VfioAliasSet;
  readonly modulePolicy: ModulePolicy;
}

/** The running kernel's release, or why it is not known. */
export function readKernelRelease(procRoot: string): string | { problem: string } {
  const file = kernelReleaseFile(procRoot);
  try {
    const release = (readOptionalRegularFile(file, { maxBytes: 256 }) ?? "").trim();
    return isSafeKernelRelease(release) ? release : { problem: `${file} gives no kernel release` };
  } catch {
    return { problem: `${file} cannot be read` };
  }
}

export function compileDecisions(sources: DecisionSources): Decisions {
  const release = readKernelRelease(sources.procRoot);
  if (typeof release !== "string") return release;
  if (sources.aliasSet.fallback) return { problem: "the kernel's modules.alias cannot be read" };
  const driverOf = (module: string): string | null =>
    isSafeModuleName(module) ? pciDriverOfModule(sources.sysfsRoot, module) : null;
  const ranking = rankingRules(sources.aliasSet.aliases, sources.modulePolicy, driverOf);
  if (ranking.problem !== null) return { problem: ranking.problem };
  const vfioModules = new Set(sources.aliasSet.aliases.map((a) => a.module));
  return {
    release,
    digest: ranking.digest,
    ranking: ranking.lines,
    pin: (name) => {
      // The same resolution as `bind --driver`: a driver name or a module name, VFIO only, allowed.
      if (!isSafeDriverName(name)) return null;
      const module = moduleOfDriver(sources.sysfsRoot, name) ?? normaliseModuleName(name);
      if (!isSafeModuleName(module) || pinnedModuleRefusal(module, vfioModules) !== null) return null;
      if (sources.modulePolicy.has(module)) return null;
      const driver = pciDriverOfModule(sources.sysfsRoot, module);
      return driver === null ? null : { module, driver };
    },
  };
}
