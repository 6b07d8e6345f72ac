/**
 * The generated claims rules on disk: written atomically when they change, then udev is
 * told to reload (udevadm through execa; a missing or stopped udevd is a warning, not a
 * failure, so the config still applies at the next boot).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeFsError, errnoCode, RuntimeFailure } from "../errors.js";
import { digestOfRules } from "./claimRules.js";
import { loadExeca } from "../process/lazyExeca.js";

/** The digest the installed rules were made from: null when they are not ours, undefined when there are none. */
function readInstalledDigest(rulesFile: string): string | null | undefined {
  try {
    return digestOfRules(fs.readFileSync(rulesFile, "utf8"));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw new RuntimeFailure(`cannot read ${rulesFile}: ${describeFsError(error)}`);
  }
}

/** Why the installed rules do not match the config, or null when they do. */
export function staleRulesReason(
  rulesFile: string,
  config: { readonly digest: string; readonly claims: readonly unknown[] },
): string | null {
  const installed = readInstalledDigest(rulesFile);
  if (installed === config.digest) return null;
  // A fresh install: nothing claimed and nothing generated. Rules made from no claims
  // would mark no device, so there is nothing to bring up to date.
  if (installed === undefined && config.claims.length === 0) return null;
  if (installed === undefined) return `${rulesFile} does not exist yet; run "vfio-autobind apply"`;
  return `${rulesFile} was generated from another config; run "vfio-autobind apply"`;
}

/** Writes the rules if they differ; returns whether the file changed. */
export function writeClaimRules(rulesFile: string, text: string): boolean {
  try {
    if (fs.readFileSync(rulesFile, "utf8") === text) return false;
  } catch {
    // missing or unreadable: write it
  }
  const temporary = `${rulesFile}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(rulesFile), { recursive: true });
    fs.writeFileSync(temporary, text, { mode: 0o644 });
    fs.renameSync(temporary, rulesFile);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw new RuntimeFailure(`cannot write ${rulesFile}: ${describeFsError(error)}`);
  }
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
