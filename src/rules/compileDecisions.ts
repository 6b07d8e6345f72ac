/**
 * The adapter that gathers what the rules' compiled decisions are made from: the running
 * kernel's release (the rules apply them only on that kernel), its VFIO aliases, the
 * modules the admin forbade, and the PCI driver names of the modules loaded now (a module
 * never loaded has no known name, so its devices stay held for the helper). Anything that
 * cannot be read means no decisions, never wrong ones: every claimed device is then held
 * and the helper decides, as before the rules could.
 */
import { createHash } from "node:crypto";
import type { VfioAliasSet } from "../kmod/readVfioAliases.js";
import type { ModulePolicy } from "../kmod/modulePolicy.js";
import { GENERIC_VFIO_DRIVER, GENERIC_VFIO_MODULE } from "../alias/aliasRecords.js";
import { moduleForName } from "../binder/bindCandidates.js";
import { readOptionalRegularFile } from "../files/safeFiles.js";
import { isSafeKernelRelease, isSafeModuleName, kernelReleaseFile } from "../paths.js";
import { pciDriverOfModule } from "../sysfs/pciDevice.js";
import { quoteForDisplay } from "../text/safeText.js";
import type { CompiledDecisions, Decisions } from "./decisionRules.js";
import { rankingRules, RANKING_DIGEST_LENGTH, type DriverOf } from "./rankingRules.js";
import { RULE_ENV } from "./ruleEnv.js";
import { renderRuleLine } from "./udevRuleSyntax.js";

export interface DecisionSources {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  readonly aliasSet: VfioAliasSet;
  readonly modulePolicy: ModulePolicy;
  /** Compile for this kernel release instead of the running one (a kernel install hook). */
  readonly release?: string;
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

/**
 * The decisions for one kernel release from its aliases and policy. The digest the rules
 * carry (`# compiled-for:`) covers what the ranking decides, not the driver names known at
 * the time: a name learnt later makes no rules stale, and rules written for a kernel that
 * is not running (an image build, a kernel install hook) can match what it compiles once booted.
 */
export function decisionsFor(
  release: string,
  aliasSet: VfioAliasSet,
  modulePolicy: ModulePolicy,
  driverOf: DriverOf,
  pin: CompiledDecisions["pin"],
): Decisions {
  if (!isSafeKernelRelease(release)) return { problem: `${quoteForDisplay(release)} is not a kernel release` };
  if (aliasSet.fallback) return { problem: "the kernel's modules.alias cannot be read" };
  const ranking = rankingRules(aliasSet.aliases, modulePolicy, driverOf);
  if (ranking.problem !== null) return { problem: ranking.problem };
  const decided = ranking.lines.map((tokens) => renderRuleLine(tokens.filter((t) => t.attr !== RULE_ENV.planDriver)));
  const digest = createHash("sha256").update(decided.join("\n")).digest("hex").slice(0, RANKING_DIGEST_LENGTH);
  return { release, digest, ranking: ranking.lines, pin };
}

export function compileDecisions(sources: DecisionSources): Decisions {
  const release = sources.release ?? readKernelRelease(sources.procRoot);
  if (typeof release !== "string") return release;
  // A name no loaded module shows is unknown, except the generic driver's (a kernel fact):
  // rules made in an image build or before the first bind still decide for vfio-pci.
  const driverOf = (module: string): string | null =>
    (isSafeModuleName(module) ? pciDriverOfModule(sources.sysfsRoot, module) : null) ??
    (module === GENERIC_VFIO_MODULE ? GENERIC_VFIO_DRIVER : null);
  return decisionsFor(release, sources.aliasSet, sources.modulePolicy, driverOf, (name) => {
    // As `bind --driver` resolves it (a name it would refuse is held for the helper to refuse).
    if (!isSafeModuleName(name)) return null;
    const module = moduleForName(sources.sysfsRoot, sources.aliasSet, name);
    if (typeof module !== "string" || sources.modulePolicy.has(module)) return null;
    const driver = driverOf(module);
    return driver === null ? null : { module, driver };
  });
}
