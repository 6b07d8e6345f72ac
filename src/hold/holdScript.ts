/**
 * The boot-time hold as a POSIX sh script, generated from the claims. Pure: config in, text
 * out. It runs where no Node.js is (the initramfs, from initramfs-tools' init-top and
 * dracut's pre-udev hook) and in the real root before udev's coldplug
 * (vfio-autobind-hold.service): it walks `$SYSFS/bus/pci/devices`, and writes HOLD_OVERRIDE
 * to the driver_override of each device that a claim selects by address, ids or class, that
 * no exclusion selects, that has no driver, no override and is no bridge (holds-design.md,
 * "The boot-time hold"). It starts no process: dash, busybox ash and klibc's sh all run it
 * with builtins only (case, read, echo, [ ]).
 *
 * VfsOf= cannot apply here: no VF exists before anything has created one. A claim or an
 * exclusion with VfsOf= (ANDed with its other keys) can select only VFs, so both are left
 * out: such a claim holds nothing, such an exclusion excludes nothing.
 *
 * Nothing reaches the script unproven. Address globs become `case` patterns rebuilt from
 * their fnmatch tokens over the only characters a sysfs address has (`0-9a-f:.`), so the
 * shell's own bracket rules (`[:class:]`, `^`) never come into play; ids and class prefixes
 * are checked against the parser's hex patterns; the claim named in the log is claimMark's
 * strictly safe form (the same the rules carry); file names appear only in comments,
 * through commentText. Anything else is refused with a RuntimeFailure naming file:line.
 */
import { tokenizePattern } from "../alias/fnmatch.js";
import { parseAddressSelector, type ClaimConfig, type Origin, type Selectors } from "../config/claimConfig.js";
import { RuntimeFailure } from "../errors.js";
import { HOLD_OVERRIDE, HOLD_SWITCH } from "../policy/hold.js";
import { HOLD_RULES } from "../policy/eligibility.js";
import { claimMark } from "../rules/claimMark.js";
import { commentText } from "../rules/udevRuleSyntax.js";
import { quoteForDisplay } from "../text/safeText.js";

/** Every character a sysfs PCI device name is made of. */
const ADDRESS_ALPHABET = [..."0123456789abcdef:."];
const HEX4 = /^[0-9a-f]{4}$/;
const CLASS_PREFIX = /^(?:[0-9a-f]{2}){1,3}$/;
const DIGEST = /^[0-9a-f]{1,64}$/;
/** claimMark's alphabet: safe unquoted in sh, and in a single-quoted string. */
const SAFE_MARK = /^[A-Za-z0-9_.:/+-]{1,300}$/;
/** The values the script writes and compares, proven once here. */
const SAFE_WORD = /^[A-Za-z0-9_.()-]+$/;

const where = (origin: Origin): string => `${origin.file}:${origin.line}`;

function refuse(origin: Origin, what: string): never {
  throw new RuntimeFailure(
    `${commentText(where(origin))}: ${what} is not a valid selector; no hold script was written`,
  );
}

/**
 * An address glob as a `case` pattern that matches exactly the addresses fnmatch matches,
 * or null when it can match no address at all (a literal or a bracket outside the address
 * alphabet). Built from the tokens, over ADDRESS_ALPHABET only.
 */
export function addressCasePattern(glob: string): string | null {
  let out = "";
  for (const token of tokenizePattern(glob)) {
    switch (token.kind) {
      case "any-run":
        out += "*";
        break;
      case "any-one":
        out += "?";
        break;
      case "literal":
        if (!ADDRESS_ALPHABET.includes(token.char)) return null;
        out += token.char;
        break;
      case "bracket": {
        const set = ADDRESS_ALPHABET.filter(
          (c) => token.items.some((item) => item.from <= c && c <= item.to) !== token.negated,
        );
        if (set.length === 0) return null;
        out += set.length === 1 ? (set[0] as string) : `[${set.join("")}]`;
        break;
      }
    }
  }
  return out;
}

/** The `case` alternatives of one key, or null when the key can match nothing. */
interface Condition {
  readonly subject: "$1" | "$2" | "$3";
  readonly patterns: readonly string[];
}

function conditionsOf(selectors: Selectors, origin: Origin): Condition[] | null {
  const conditions: Condition[] = [];
  if (selectors.addresses.length > 0) {
    const patterns: string[] = [];
    for (const glob of selectors.addresses) {
      if (parseAddressSelector(glob) !== glob) refuse(origin, `Address=${quoteForDisplay(glob)}`);
      const pattern = addressCasePattern(glob);
      if (pattern !== null) patterns.push(pattern);
    }
    if (patterns.length === 0) return null;
    conditions.push({ subject: "$1", patterns });
  }
  if (selectors.ids.length > 0) {
    const patterns = selectors.ids.map((id) => {
      const parts = [id.vendor, id.device];
      if (id.subsystemVendor !== undefined || id.subsystemDevice !== undefined)
        parts.push(id.subsystemVendor ?? "", id.subsystemDevice ?? "");
      if (!parts.every((p) => HEX4.test(p))) refuse(origin, `Ids=${quoteForDisplay(parts.join(":"))}`);
      return parts.length === 2 ? `${parts.join(":")}:*` : parts.join(":");
    });
    conditions.push({ subject: "$2", patterns });
  }
  if (selectors.classes.length > 0) {
    const patterns = selectors.classes.map((prefix) => {
      if (!CLASS_PREFIX.test(prefix)) refuse(origin, `Class=${quoteForDisplay(prefix)}`);
      return `${prefix}*`;
    });
    conditions.push({ subject: "$3", patterns });
  }
  return conditions;
}

/** Nested `case`s (keys ANDed, alternatives ORed) around `action`, at one tab of indent per level. */
function nestedCase(conditions: readonly Condition[], action: readonly string[]): string[] {
  const lines: string[] = [];
  const tabs = (n: number): string => "\t".repeat(n);
  conditions.forEach((condition, depth) => {
    lines.push(`${tabs(depth + 1)}case ${condition.subject} in`);
    lines.push(`${tabs(depth + 1)}${[...new Set(condition.patterns)].join(" | ")})`);
  });
  const depth = conditions.length + 1;
  lines.push(...action.map((line) => `${tabs(depth)}${line}`));
  for (let level = conditions.length; level >= 1; level -= 1) {
    lines.push(`${tabs(level + 1)};;`, `${tabs(level)}esac`);
  }
  return lines;
}

/** The selection, as selectClaim makes it, for the keys a boot-time device can match. */
function selectFunction(config: Pick<ClaimConfig, "claims" | "exclusions">): string[] {
  const lines = [
    "# $1 the address, $2 vendor:device:subsystem_vendor:subsystem_device, $3 the class (hex, no 0x).",
    "# Sets claim to the first claim that selects the device, unless an exclusion does; fails otherwise.",
    "select_claim() {",
    "\tclaim=",
  ];
  const section = (kind: string, origin: Origin, selectors: Selectors, action: readonly string[]): void => {
    lines.push(`\t# [${kind}] ${commentText(where(origin))}`);
    if (selectors.vfsOf.length > 0) {
      // Still checked, so that a bad value is refused here as in the rules.
      conditionsOf(selectors, origin);
      lines.push("\t# VfsOf=: selects only VFs, and none exists at boot");
      return;
    }
    const conditions = conditionsOf(selectors, origin);
    if (conditions === null) {
      lines.push("\t# its addresses can match no PCI device name");
      return;
    }
    lines.push(...nestedCase(conditions, action));
  };
  for (const exclusion of config.exclusions) section("Exclude", exclusion.origin, exclusion.selectors, ["return 1"]);
  for (const claim of config.claims) {
    const mark = claimMark(claim.origin);
    if (!SAFE_MARK.test(mark)) refuse(claim.origin, `the claim's name ${quoteForDisplay(mark)}`);
    section("Claim", claim.origin, claim.selectors, [`claim='${mark}'`, "return 0"]);
  }
  lines.push("\treturn 1", "}");
  return lines;
}

function proven(value: string): string {
  if (!SAFE_WORD.test(value)) throw new Error(`unsafe constant ${quoteForDisplay(value)} for the hold script`);
  return value;
}

/** What the script does, by its first argument (see the usage in its header). */
export const HOLD_SCRIPT_MODES = ["hold", "release-stale", "release-storage", "release-all"] as const;
export type HoldScriptMode = (typeof HOLD_SCRIPT_MODES)[number];

/** Why each release mode lets go of a hold: the words of its kernel-log line. */
const RELEASE_WHY: Record<Exclude<HoldScriptMode, "hold">, string> = {
  "release-stale": "held by an older initramfs, and no current claim selects it",
  "release-storage": "a storage controller held while the root device has not appeared",
  "release-all": "still held, and nothing is left to bind it (no VFIO driver took it)",
};

/** `may_hold`: the eligibility table (policy/eligibility.ts) as sh, one row a line. */
function mayHoldFunction(skipVfs: boolean): string[] {
  return [
    "# Fails when a row of the eligibility table applies to $dev: such a device is never held.",
    "may_hold() {",
    ...HOLD_RULES.map((rule) => `\tif ${rule.sh}; then return 1; fi # ${commentText(rule.why)}`),
    ...(skipVfs
      ? [
          "\t# An [Exclude] VfsOf= may select a VF; only the helper can tell, so VFs are not held.",
          '\t[ -e "$dev/physfn" ] && return 1',
        ]
      : []),
    "\treturn 0",
    "}",
  ];
}

/**
 * The hold script for `config`, headed by `# config-digest: <digest>` (the digest the rules
 * carry). Usage: `sh hold-claimed.sh [MODE] [SYSFS [CMDLINE [LOG]]]`, defaults hold, /sys,
 * /proc/cmdline and /dev/kmsg (stderr when LOG is not writable).
 */
export function generateHoldScript(config: Pick<ClaimConfig, "claims" | "exclusions">, digest: string): string {
  if (!DIGEST.test(digest)) throw new RuntimeFailure(`config digest ${quoteForDisplay(digest)}: not a digest`);
  const hold = proven(HOLD_OVERRIDE);
  const holdSwitch = proven(HOLD_SWITCH);
  const skipVfs = config.exclusions.some((e) => e.selectors.vfsOf.length > 0);
  return [
    `# config-digest: ${digest}`,
    "# Generated by vfio-autobind from the claims; do not edit (vfio-autobind hold-script prints it).",
    "# Usage: sh hold-claimed.sh [MODE] [SYSFS [CMDLINE [LOG]]]  (hold, /sys, /proc/cmdline, /dev/kmsg)",
    `#   hold             hold the claimed PCI devices present now, before udev's coldplug can load a`,
    `#                    host driver for them: ${hold} in driver_override matches no driver, and the`,
    "#                    udev rules replace it;",
    "#   release-stale    hand to the kernel every held device this script would not hold (the",
    "#                    initramfs runs the real root's copy before switch_root);",
    "#   release-storage  hand every held storage controller to the kernel (the initramfs has waited",
    "#                    too long for the root device);",
    "#   release-all      hand every held device to the kernel (after the coldplug, nothing may be held).",
    "# POSIX sh with builtins only (dash, busybox ash, klibc sh): the initramfs has no more.",
    "",
    "mode=hold",
    "case $1 in",
    `${HOLD_SCRIPT_MODES.map((m) => `"${m}"`).join(" | ")})`,
    "\tmode=$1",
    "\tshift",
    "\t;;",
    "esac",
    "sysfs=${1:-/sys}",
    "cmdline_file=${2:-/proc/cmdline}",
    "log_file=${3:-/dev/kmsg}",
    "",
    "# One line to the kernel log (notice level), or to stderr where it cannot be written.",
    "say() {",
    `\tif [ -w "$log_file" ] && { echo "<5>vfio-autobind: $1" >>"$log_file"; } 2>/dev/null; then`,
    "\t\treturn 0",
    "\tfi",
    '\techo "vfio-autobind: $1" >&2',
    "}",
    "",
    "# value = the first line of the file $1; fails when it cannot be read.",
    "read_attr() {",
    "\tvalue=",
    '\t{ read -r value <"$1"; } 2>/dev/null || [ -n "$value" ]',
    "}",
    "",
    ...selectFunction(config),
    "",
    ...mayHoldFunction(skipVfs),
    "",
    "# Whether a claim selects $dev (sets claim).",
    "claimed() {",
    '\tread_attr "$dev/class" || return 1',
    "\tclass=${value#0x}",
    '\tread_attr "$dev/vendor" || return 1',
    "\tids=${value#0x}",
    '\tread_attr "$dev/device" || return 1',
    "\tids=$ids:${value#0x}",
    '\tread_attr "$dev/subsystem_vendor" || return 1',
    "\tids=$ids:${value#0x}",
    '\tread_attr "$dev/subsystem_device" || return 1',
    "\tids=$ids:${value#0x}",
    '\tselect_claim "$address" "$ids" "$class"',
    "}",
    "",
    "# Whether $dev carries our hold and no driver.",
    "held() {",
    `\tread_attr "$dev/driver_override" && [ "$value" = ${hold} ] && [ ! -L "$dev/driver" ]`,
    "}",
    "",
    "# Clears the hold of $dev and asks the kernel to probe it: it goes where it would have gone",
    "# without vfio-autobind. $1 says why.",
    "release() {",
    '\tif { echo >"$dev/driver_override"; } 2>/dev/null; then',
    '\t\t{ echo "$address" >"$sysfs/bus/pci/drivers_probe"; } 2>/dev/null',
    '\t\tsay "$address: $1: hold cleared, the kernel probed it"',
    "\telse",
    `\t\tsay "$address: $1, but driver_override cannot be written, so it stays held (boot with ${holdSwitch}=0)"`,
    "\tfi",
    "}",
    "",
    "# The kernel command line's last word for the switch wins, as for udev's IMPORT{cmdline}.",
    "cmdline=",
    `{ read -r cmdline <"$cmdline_file"; } 2>/dev/null`,
    "switch=",
    "set -f",
    "for word in $cmdline; do",
    "\tcase $word in",
    `\t${holdSwitch}=*) switch=\${word#*=} ;;`,
    "\tesac",
    "done",
    "set +f",
    'if [ "$mode" = hold ] && [ "$switch" = 0 ]; then',
    `\tsay "${holdSwitch}=0 on the kernel command line: no device held"`,
    "\texit 0",
    "fi",
    "",
    "first=yes",
    'for dev in "$sysfs"/bus/pci/devices/*; do',
    "\taddress=${dev##*/}",
    "\tcase $address in",
    '\t"" | *[!0-9a-f:.]*) continue ;;',
    "\t*:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7]) ;;",
    "\t*) continue ;;",
    "\tesac",
    "\tcase $mode in",
    '\t"hold")',
    "\t\theld && continue",
    "\t\tmay_hold || continue",
    "\t\tclaimed || continue",
    `\t\tif ! { echo ${hold} >"$dev/driver_override"; } 2>/dev/null; then`,
    '\t\t\tsay "could not hold $address for $claim: driver_override cannot be written"',
    "\t\t\tcontinue",
    "\t\tfi",
    '\t\tif [ "$first" = yes ]; then',
    `\t\t\tsay "holding claimed devices for their VFIO drivers (to boot without any hold, add ${holdSwitch}=0 to the kernel command line)"`,
    "\t\t\tfirst=no",
    "\t\tfi",
    '\t\tsay "holding $address for $claim"',
    "\t\t;;",
    '\t"release-stale")',
    "\t\theld || continue",
    "\t\tmay_hold && claimed && continue",
    `\t\trelease "${RELEASE_WHY["release-stale"]}"`,
    "\t\t;;",
    '\t"release-storage")',
    "\t\theld || continue",
    '\t\tread_attr "$dev/class" || continue',
    "\t\tcase $value in",
    `\t\t0x01*) release "${RELEASE_WHY["release-storage"]}" ;;`,
    "\t\tesac",
    "\t\t;;",
    '\t"release-all")',
    "\t\theld || continue",
    `\t\trelease "${RELEASE_WHY["release-all"]}"`,
    "\t\t;;",
    "\tesac",
    "done",
    "exit 0",
    "",
  ].join("\n");
}
