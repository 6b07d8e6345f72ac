/**
 * The generated claims rules on disk: written atomically when they change, then udev is
 * told to reload (udevadm through execa; a missing or stopped udevd is a warning, not a
 * failure, so the config still applies at the next boot).
 */
import { readOptionalRegularFile, writeFileAtomic } from "../files/safeFiles.js";
import { loadExeca } from "../process/lazyExeca.js";
import type { Decisions } from "./decisionRules.js";
import { generatedRulesProblem } from "./generatedRulesCheck.js";
import { compiledForOfRules, digestOfRules, otherGeneratorReason } from "./rulesHeader.js";

// Far above any real config (a line per claim and id), small enough to read at once.
const RULES_MAX_BYTES = 8 * 1024 * 1024;

/** The installed rules' text, or null when there are none; throws FileError. */
function readInstalledRules(rulesFile: string): string | null {
  return readOptionalRegularFile(rulesFile, { maxBytes: RULES_MAX_BYTES });
}

/** Why the installed rules do not match the config, or null when they do. */
export function staleRulesReason(
  rulesFile: string,
  config: { readonly digest: string; readonly claims: readonly unknown[] },
): string | null {
  const installed = readInstalledRules(rulesFile);
  if (installed !== null && digestOfRules(installed) === config.digest) return null;
  // A fresh install: nothing claimed and nothing generated. Rules made from no claims
  // would mark no device, so there is nothing to bring up to date.
  if (installed === null && config.claims.length === 0) return null;
  if (installed === null) return `${rulesFile} does not exist yet; run "vfio-autobind apply"`;
  return `${rulesFile} was generated from another config; run "vfio-autobind apply"`;
}

/** Why the installed rules are another version's work (its helper may read them otherwise), or null. */
export function otherVersionReason(rulesFile: string): string | null {
  const installed = readInstalledRules(rulesFile);
  const reason = installed === null ? null : otherGeneratorReason(installed);
  return reason === null ? null : `${rulesFile} was ${reason}; run "vfio-autobind apply"`;
}

/**
 * Why the installed rules' compiled decisions are not what this kernel would compile now
 * (another kernel, a variant added or removed, a driver name learnt since), or null. The
 * devices are still bound right (the helper corrects a stale decision); only slower.
 */
export function staleDecisionsReason(rulesFile: string, decide: () => Decisions): string | null {
  const installed = readInstalledRules(rulesFile);
  if (installed === null || digestOfRules(installed) === null) return null;
  const compiled = compiledForOfRules(installed);
  const expected = decide();
  if ("problem" in expected) return null; // nothing could be compiled now: holds are all there is
  if (compiled !== null && compiled.release === expected.release && compiled.digest === expected.digest) return null;
  const was = compiled === null ? "compiled no decisions" : `were compiled for ${compiled.release}`;
  return `${rulesFile}: its driver decisions ${was}; the running kernel ${expected.release} decides differently now (the helper corrects each device, more slowly); run "vfio-autobind apply"`;
}

/**
 * `file:line: why` when the installed rules are not what vfio-autobind generates (a line
 * edited by hand, a RUN added), or null when every rule in them reads back as generated
 * (or there are none).
 */
export function installedRulesProblem(rulesFile: string): string | null {
  const installed = readInstalledRules(rulesFile);
  const problem = installed === null ? null : generatedRulesProblem(installed);
  return problem === null
    ? null
    : `${rulesFile}:${problem.line}: ${problem.message}; run "vfio-autobind apply" to write it again`;
}

/** The installed rules apply would replace: null when there are none, or they are unreadable or not a regular file. */
export function replacedRulesText(rulesFile: string): string | null {
  try {
    return readInstalledRules(rulesFile);
  } catch {
    return null;
  }
}

/** Writes the rules if they differ; returns whether the file changed. Throws FileError. */
export function writeClaimRules(rulesFile: string, text: string): boolean {
  if (replacedRulesText(rulesFile) === text) return false;
  // A temporary file planted as a symlink is never followed (O_EXCL|O_NOFOLLOW).
  writeFileAtomic(rulesFile, text, { mode: 0o644 });
  return true;
}

/** Asks udevd to re-read its rules; returns a warning when that could not be done. */
export async function reloadUdevRules(udevadm = "udevadm"): Promise<string | null> {
  const execa = await loadExeca();
  const result = await execa(udevadm, ["control", "--reload"], { reject: false, timeout: 30_000, stdin: "ignore" });
  if (result.exitCode === 0) return null;
  const detail = result.stderr.trim().split("\n").pop() || result.shortMessage;
  return `could not reload udev rules (${detail}); they take effect when udevd next starts`;
}
