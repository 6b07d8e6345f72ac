/**
 * The ranking compiled into udev rules: one line per VFIO alias that sets the
 * module and its PCI driver name when the device's MODALIAS matches, least specific first.
 * udev applies every matching line in order and the last assignment wins, so the module
 * left in the property is the most specific match: rankCandidates' first candidate. Pure.
 *
 * Equality with rankCandidates needs three things, each checked here:
 *   - the same order: the reverse of compareCandidates, ties included (module names);
 *   - the same set: forbidden modules left out as planCandidates leaves them out;
 *   - the same matching: udev matches with glibc fnmatch(3), flags 0, after splitting the
 *     value at `|`, and substitutes nothing in a match value. A pattern is written only
 *     when both read it as our fnmatch does: no `|`, no backslash (quoting), no `$`,
 *     quote, whitespace or control character, and bracket expressions only of letters,
 *     digits and same-kind ranges (no `[:class:]`, no `^` negation, which glibc reads
 *     differently under POSIXLY_CORRECT, no range whose meaning depends on the locale).
 * One alias that cannot be written means no line is written: dropping it could let a less
 * specific alias win. The helper then decides, as it did before the rules could.
 */
import { createHash } from "node:crypto";
import { VFIO_ALIAS_PREFIX, type VfioAlias } from "../alias/aliasRecords.js";
import { compilePattern, MAX_PATTERN_LENGTH, PatternError, patternSpecificity } from "../alias/fnmatch.js";
import { compareCandidates } from "../alias/rankCandidates.js";
import type { ModulePolicy } from "../kmod/modulePolicy.js";
import { oneLine, quoteForDisplay } from "../text/safeText.js";
import { RULE_ENV } from "./ruleEnv.js";
import { renderRuleLine, UnsafeRuleTextError, type RuleToken } from "./udevRuleSyntax.js";

export interface RankingRules {
  /** The ranking block's rules, least specific first; empty when `problem` is set. */
  readonly lines: RuleToken[][];
  /** Short hex sha256 of the rendered lines (or of the problem), for the `# compiled-for:` header. */
  readonly digest: string;
  /** Why nothing was compiled (one line, safe to show), or null. */
  readonly problem: string | null;
}

/** The PCI driver name a module registers (`vfio-pci` for vfio_pci), or null when not known. */
export type DriverOf = (module: string) => string | null;

/**
 * A real modules.alias has a few dozen vfio_pci lines (a few hundred with xe_vfio_pci's
 * device list). More is not a kernel's index, and udev would walk every line for every
 * claimed device.
 */
export const MAX_RANKING_LINES = 4096;

/** Hex characters of the digest: 64 bits, plenty to notice a change. */
export const RANKING_DIGEST_LENGTH = 16;

/** The property udev matches: the device's modalias, which the alias pattern matches after `vfio_`. */
export const MODALIAS_ENV = "MODALIAS";

/** `vfio_` + modalias is what the kernel matches VFIO aliases against (rankCandidates' subject). */
const VFIO_SUBJECT_PREFIX = "vfio_";

const MODULE_NAME = /^[A-Za-z0-9_]{1,64}$/;
const DRIVER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
// What a pattern may hold: characters udev renders as they are and glibc and our fnmatch
// read alike. `[` is checked apart (BRACKET).
const PATTERN_CHAR = /[A-Za-z0-9_.:/*?!\]()+-]/;
const BRACKET = /\[!?(?:[0-9]-[0-9]|[A-Z]-[A-Z]|[a-z]-[a-z]|[A-Za-z0-9])+\]/y;

function describeCharacter(c: string): string {
  if (c === "|") return "a | (udev reads it as between two alternatives)";
  if (c === '"') return "a double quote";
  if (c === "\\") return "a backslash (fnmatch quoting)";
  if (c === "$" || c === "%") return `a ${c} (udev substitution)`;
  if (/\s/.test(c)) return "whitespace";
  if (c < " " || (c >= "\x7f" && c <= "\x9f")) return "a control character";
  return `the character ${quoteForDisplay(c)}`;
}

/**
 * Why `pattern` cannot be written as an ENV{MODALIAS} value that udev matches exactly as
 * our fnmatch matches the alias, or null. Linear in the pattern, which is bounded first.
 */
export function udevPatternProblem(pattern: string): string | null {
  if (pattern.length > MAX_PATTERN_LENGTH)
    return `is ${pattern.length} characters long, more than the ${MAX_PATTERN_LENGTH} allowed`;
  if (!pattern.startsWith(VFIO_ALIAS_PREFIX)) return `does not start with ${VFIO_ALIAS_PREFIX}`;
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i] as string;
    if (c === "[") {
      BRACKET.lastIndex = i;
      if (!BRACKET.test(pattern))
        return "has a bracket expression other than letters, digits and ranges of one kind (glibc may read it otherwise)";
      i = BRACKET.lastIndex;
    } else if (PATTERN_CHAR.test(c)) {
      i += 1;
    } else {
      return `has ${describeCharacter(c)}`;
    }
  }
  try {
    compilePattern(pattern);
  } catch (error) {
    if (error instanceof PatternError) return error.message;
    throw error;
  }
  return null;
}

interface Entry {
  readonly module: string;
  readonly pattern: string;
  readonly wildcards: number;
  readonly literals: number;
}

const whereOf = (alias: VfioAlias): string =>
  oneLine(alias.origin.line === undefined ? alias.origin.file : `${alias.origin.file}:${alias.origin.line}`, 256);

const digestOf = (text: string): string =>
  createHash("sha256").update(text).digest("hex").slice(0, RANKING_DIGEST_LENGTH);

function refused(problem: string): RankingRules {
  return { lines: [], digest: digestOf(`problem: ${problem}`), problem };
}

/**
 * The ranking block's rule lines for these aliases, the admin's module policy and the
 * driver names known now. `driverOf` is asked once per module.
 */
export function rankingRules(aliases: readonly VfioAlias[], policy: ModulePolicy, driverOf: DriverOf): RankingRules {
  const seen = new Set<string>();
  const entries: Entry[] = [];
  for (const alias of aliases) {
    if (policy.has(alias.module)) continue; // as planCandidates: never a candidate
    const patternProblem = udevPatternProblem(alias.pattern);
    if (patternProblem !== null) {
      return refused(
        `vfio alias ${quoteForDisplay(alias.pattern)} of ${quoteForDisplay(alias.module)} (${whereOf(alias)}) ` +
          `${patternProblem}; the ranking is left to the helper`,
      );
    }
    if (!MODULE_NAME.test(alias.module)) {
      return refused(
        `vfio alias ${quoteForDisplay(alias.pattern)} (${whereOf(alias)}): module name ` +
          `${quoteForDisplay(alias.module)} is not one the rules can load; the ranking is left to the helper`,
      );
    }
    // The same alias twice (modules.alias and modules.builtin.modinfo, or a repeated line) is one line.
    const key = `${alias.module} ${alias.pattern}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (seen.size > MAX_RANKING_LINES) {
      return refused(
        `more than ${MAX_RANKING_LINES} distinct vfio aliases (${whereOf(alias)}); ` +
          "not a kernel's index, the ranking is left to the helper",
      );
    }
    entries.push({ module: alias.module, pattern: alias.pattern, ...patternSpecificity(alias.pattern) });
  }

  // Most specific first, as rankCandidates orders them; written the other way round.
  entries.sort(compareCandidates);
  entries.reverse();

  const drivers = new Map<string, string>();
  const lines: RuleToken[][] = [];
  const rendered: string[] = [];
  for (const entry of entries) {
    let driver = drivers.get(entry.module);
    if (driver === undefined) {
      driver = driverOf(entry.module) ?? "";
      if (driver !== "" && !DRIVER_NAME.test(driver)) {
        return refused(
          `the PCI driver name ${quoteForDisplay(driver)} of module ${entry.module} cannot be written ` +
            "into udev rules; the ranking is left to the helper",
        );
      }
      drivers.set(entry.module, driver);
    }
    const tokens: RuleToken[] = [
      { key: "ENV", attr: MODALIAS_ENV, op: "==", value: entry.pattern.slice(VFIO_SUBJECT_PREFIX.length) },
      { key: "ENV", attr: RULE_ENV.planModule, op: "=", value: entry.module },
      { key: "ENV", attr: RULE_ENV.planDriver, op: "=", value: driver },
    ];
    try {
      rendered.push(renderRuleLine(tokens));
    } catch (error) {
      // Not expected after the checks above; refused all the same rather than written.
      if (!(error instanceof UnsafeRuleTextError)) throw error;
      return refused(
        `vfio alias ${quoteForDisplay(entry.pattern)}: ${error.message}; the ranking is left to the helper`,
      );
    }
    lines.push(tokens);
  }
  return { lines, digest: digestOf(rendered.join("\n")), problem: null };
}
