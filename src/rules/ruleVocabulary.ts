/**
 * The tokens, labels and exact values the generated claim rules are made of: one home for
 * the writer (claimRules.ts and its sections) and for the checker of installed rules
 * (generatedRulesCheck.ts), so that the checker accepts exactly what the writer writes.
 */
import { DEFAULT_PATHS, sysfsPaths } from "../paths.js";
import type { Origin } from "../config/claimConfig.js";
import { isSysfsPciName } from "../sysfs/pciAddress.js";
import { RULE_ENV } from "./ruleEnv.js";
import type { RuleToken } from "./udevRuleSyntax.js";

export const CLAIM_ENV = RULE_ENV.claim;
export const END_LABEL = "vfio_autobind_claims_end";
export const OWNER_END_LABEL = "vfio_autobind_owners_end";
export const DECIDE_END_LABEL = "vfio_autobind_decide_end";
export const DECIDED_LABEL = "vfio_autobind_decided";
export const LABELS = [END_LABEL, OWNER_END_LABEL, DECIDE_END_LABEL, DECIDED_LABEL];

// The exact values the decision section writes: one home, read by the checker too.
export const SET_DRIVER_OVERRIDE = `$env{${RULE_ENV.planDriver}}`;
export const WROTE_MODULE = `$env{${RULE_ENV.planModule}}`;
export const PROBE_NOW = "$kernel";
export const PROBE_ATTR = "[subsystem/pci]drivers_probe";
export const KMOD_LOAD = `kmod load $env{${RULE_ENV.planModule}}`;
/** Every path the rules TEST, relative to the device unless absolute: one home for the writer and the checker. */
export const TEST_PATH = {
  /** The device is a VF. */
  isVf: "physfn",
  /** The winner's driver is registered: its directory appears when it registers (udev substitutes $env{} in a TEST). */
  driverRegistered: `${sysfsPaths(DEFAULT_PATHS.sysfsRoot).drivers}/$env{${RULE_ENV.planDriver}}`,
} as const;
export const TESTS = new Set<string>(Object.values(TEST_PATH));
export const RELEASE_KEY = "kernel/osrelease";
/** The plans the rules carry out themselves; any other device stays held for the helper. */
export const PLANNED = "auto|pin";
export const PLANS = new Set<string>(["auto", "pin"]);

export const is = (key: string, value: string, attr: string | null = null): RuleToken => ({
  key,
  attr,
  op: "==",
  value,
});
export const set = (key: string, value: string, attr: string | null = null): RuleToken => ({
  key,
  attr,
  op: "=",
  value,
});

export const where = (origin: Origin): string => `${origin.file}:${origin.line}`;

/** One line of the generated file: a comment, or a rule. */
export type Line = { readonly comment: string } | { readonly tokens: RuleToken[] };

/** The group node's TEST: its group (udev puts the group number in $kernel) holds the device. */
export function groupHoldsDevice(address: string): string {
  return `${sysfsPaths(DEFAULT_PATHS.sysfsRoot).iommuGroups}/$kernel/devices/${address}`;
}

/** Whether a TEST path is one groupHoldsDevice writes, for the checker. */
export function isGroupHoldsDevice(value: string): boolean {
  const prefix = groupHoldsDevice("");
  return value.startsWith(prefix) && isSysfsPciName(value.slice(prefix.length));
}
