/**
 * The ranking rule, in one place. A device's candidates are the VFIO aliases whose pattern
 * matches `vfio_` + its modalias. They are ordered:
 *   1. fewer `*` first (the kernel's own rule, commit cc6711b0bf36);
 *   2. then more literal characters first (a `?` or `[...]` is less specific than a
 *      literal, so `sv000015B3` beats `sv0000?5B3`);
 *   3. then module name ascending, so the answer never depends on file order.
 * A module that matches through several aliases appears once, with its most specific one.
 */
import type { AliasOrigin, VfioAlias } from "./aliasRecords.js";
import { compilePattern, patternSpecificity, type CompiledPattern } from "./fnmatch.js";
import { vfioMatchString, type PciModalias } from "./modalias.js";

export interface Candidate {
  readonly module: string;
  readonly pattern: string;
  readonly wildcards: number;
  readonly literals: number;
  readonly origin: AliasOrigin;
  /** Other patterns of the same module that matched, less specific than `pattern`. */
  readonly alsoMatched: string[];
}

export function compareCandidates(
  a: Pick<Candidate, "module" | "wildcards" | "literals" | "pattern">,
  b: Pick<Candidate, "module" | "wildcards" | "literals" | "pattern">,
): number {
  if (a.wildcards !== b.wildcards) return a.wildcards - b.wildcards;
  if (a.literals !== b.literals) return b.literals - a.literals;
  if (a.module !== b.module) return a.module < b.module ? -1 : 1;
  // Same module twice: keep the order total so that deduplication is stable too.
  return a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0;
}

// Compiled once per alias record, however many devices `list` or `apply` ranks.
const compiled = new WeakMap<VfioAlias, CompiledPattern>();

function matcherOf(alias: VfioAlias): CompiledPattern {
  let matcher = compiled.get(alias);
  if (matcher === undefined) {
    matcher = compilePattern(alias.pattern);
    compiled.set(alias, matcher);
  }
  return matcher;
}

/** Every alias whose pattern matches the device, most specific first, one per module. */
export function rankCandidates(modalias: PciModalias, aliases: readonly VfioAlias[]): Candidate[] {
  const subject = vfioMatchString(modalias);
  const matches: Candidate[] = [];
  for (const alias of aliases) {
    if (!matcherOf(alias).test(subject)) continue;
    const { wildcards, literals } = patternSpecificity(alias.pattern);
    matches.push({
      module: alias.module,
      pattern: alias.pattern,
      wildcards,
      literals,
      origin: alias.origin,
      alsoMatched: [],
    });
  }
  matches.sort(compareCandidates);

  const byModule = new Map<string, Candidate>();
  const ranked: Candidate[] = [];
  for (const match of matches) {
    const best = byModule.get(match.module);
    if (best === undefined) {
      byModule.set(match.module, match);
      ranked.push(match);
    } else if (best.pattern !== match.pattern) {
      best.alsoMatched.push(match.pattern);
    }
  }
  return ranked;
}

/** One sentence on why `lower` ranks below `higher`, for `explain`. */
export function whyRanksBelow(lower: Candidate, higher: Candidate): string {
  if (lower.wildcards !== higher.wildcards) {
    return `more wildcards than ${higher.module} (${lower.wildcards} > ${higher.wildcards})`;
  }
  if (lower.literals !== higher.literals) {
    return `as many wildcards as ${higher.module}, fewer literal characters (${lower.literals} < ${higher.literals})`;
  }
  return `ties with ${higher.module} on wildcards and literals; module names sort ${higher.module} first`;
}
