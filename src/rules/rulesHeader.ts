/**
 * The header comments of a generated rules file, read back: which config digest, which
 * version of vfio-autobind and which kernel's ranking it was made from.
 */
import { VERSION } from "../version.js";

export const GENERATOR_LABEL = "generator: vfio-autobind ";
/**
 * The version in the header: what the helper that reads these rules must understand. A
 * caller other than this build (the VM suites' host side) names the version it stands for.
 */
export const generatorVersion = (version: string = VERSION): string =>
  /^[A-Za-z0-9.~+-]{1,64}$/.test(version) ? version : "unknown";

/**
 * Why installed rules were written by another version of vfio-autobind, or null: this
 * version wrote them (or they are not ours). Rules from before the header named its
 * version count as another's.
 */
export function otherGeneratorReason(text: string): string | null {
  if (digestOfRules(text) === null) return null;
  const m = /^# generator: vfio-autobind (\S+)$/m.exec(text);
  if (m !== null && m[1] === generatorVersion()) return null;
  const writer = m === null ? "an older vfio-autobind" : `vfio-autobind ${m[1] as string}`;
  return `written by ${writer}, this is ${generatorVersion()}`;
}

/** The digest a generated rules file was made from, or null if it is not ours. */
export function digestOfRules(text: string): string | null {
  const m = /^# config-digest: ([A-Za-z0-9]+)$/m.exec(text);
  return m === null ? null : (m[1] as string);
}

/** What the installed rules' decisions were compiled for (`<release> <digest>`), or null: none. */
export function compiledForOfRules(text: string): { release: string; digest: string } | null {
  const m = /^# compiled-for: (\S+) ([0-9a-f]+)$/m.exec(text);
  return m === null ? null : { release: m[1] as string, digest: m[2] as string };
}
