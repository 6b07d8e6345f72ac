/**
 * Claims compiled into udev match rules, so that udev starts no process for a device no
 * claim can select. Pure. The generated file only marks claimed devices
 * (ENV{VFIO_AUTOBIND_CLAIM}); the packaged 70-vfio-autobind.rules runs the helper for
 * marked devices, and the helper decides again from the config (selectClaim), so a mark
 * may be broader than its claim but never narrower. Exclusions come first and jump past
 * every claim, so an exclusion's rule may be narrower than the exclusion (the helper still
 * applies it) but never broader: it would take devices away from other claims.
 *
 * udev matches KERNEL and ATTR{...} values with the same fnmatch globs as claims use, so
 * addresses, ids and classes translate one to one. VfsOf cannot be matched through the
 * `physfn` link in udev, so it becomes the list of addresses the PF's VFs will have
 * (computed from sriov_offset and sriov_stride) plus `TEST=="physfn"`. Where that list is
 * unknown, a claim marks every VF and an exclusion is left to the helper.
 *
 * Nothing from a file name or a path is put into a rule value as it is: values are the
 * selectors (checked again here against the parser's patterns) and the origin mark, which
 * is written in a strictly safe form. The text is tokenized again before it is returned and
 * must read back as exactly the intended rules.
 */
import { fnmatch } from "../alias/fnmatch.js";
import {
  parseAddressSelector,
  parsePfSelector,
  type ClaimConfig,
  type IdSelector,
  type Origin,
  type Selectors,
} from "../config/claimConfig.js";
import { RuntimeFailure } from "../errors.js";
import { VERSION } from "../version.js";
import { isAccountName, isNodeMode } from "../config/nodeAccess.js";
import type { NodeOwnership } from "../policy/nodeOwnership.js";
import { isSysfsPciName } from "../sysfs/pciAddress.js";
import { HOLD_OVERRIDE, HOLD_SWITCH } from "../policy/hold.js";
import { HOLD_RULES } from "../policy/holdEligibility.js";
import { DEFAULT_PATHS, isSafeDriverName, isSafeKernelRelease, isSafeModuleName, sysfsPaths } from "../paths.js";
import { controlCharacterAt, quoteForDisplay } from "../text/safeText.js";
import { RULE_ENV } from "./ruleEnv.js";
import {
  commentText,
  renderRuleLine,
  tokenizeRules,
  UnsafeRuleTextError,
  type RuleSyntaxError,
  type RuleToken,
} from "./udevRuleSyntax.js";

export const CLAIM_ENV = RULE_ENV.claim;
const END_LABEL = "vfio_autobind_claims_end";
const OWNER_END_LABEL = "vfio_autobind_owners_end";
const DECIDE_END_LABEL = "vfio_autobind_decide_end";
const DECIDED_LABEL = "vfio_autobind_decided";
const LABELS = [END_LABEL, OWNER_END_LABEL, DECIDE_END_LABEL, DECIDED_LABEL];

/**
 * The ranking compiled for one kernel release (rankingRules.ts), and how a claim's pinned
 * Driver= resolves to a module and a driver name. Null pin: the driver name is not known
 * now (module not loaded), so that claim's devices are held and the helper decides.
 */
export interface CompiledDecisions {
  readonly release: string;
  readonly digest: string;
  readonly ranking: readonly (readonly RuleToken[])[];
  readonly pin: (name: string) => { readonly module: string; readonly driver: string } | null;
}
/** Either decisions, or why none could be compiled (every claimed device is then held for the helper). */
export type Decisions = CompiledDecisions | { readonly problem: string };

// The exact values the decision section writes: one home, read by the checker below too.
const SET_DRIVER_OVERRIDE = `$env{${RULE_ENV.planDriver}}`;
const WROTE_MODULE = `$env{${RULE_ENV.planModule}}`;
const PROBE_NOW = "$kernel";
const PROBE_ATTR = "[subsystem/pci]drivers_probe";
const KMOD_LOAD = `kmod load $env{${RULE_ENV.planModule}}`;
/** Every path the rules TEST, relative to the device unless absolute: one home for the writer and the checker. */
const TEST_PATH = {
  /** The device is a VF. */
  isVf: "physfn",
  /** The winner's driver is registered: its directory appears when it registers (udev substitutes $env{} in a TEST). */
  driverRegistered: `${sysfsPaths(DEFAULT_PATHS.sysfsRoot).drivers}/$env{${RULE_ENV.planDriver}}`,
} as const;
const TESTS = new Set<string>(Object.values(TEST_PATH));
const RELEASE_KEY = "kernel/osrelease";
/** The plans the rules carry out themselves; any other device stays held for the helper. */
const PLANNED = "auto|pin";

/** The addresses a PF's VFs take (all of them, enabled or not), or null if unknown. */
export type VfAddressesOf = (pf: string) => readonly string[] | null;

const is = (key: string, value: string, attr: string | null = null): RuleToken => ({ key, attr, op: "==", value });
const set = (key: string, value: string, attr: string | null = null): RuleToken => ({ key, attr, op: "=", value });

// Longer KERNEL and class alternatives are split over several lines: udevd ignores a line
// of 16 KiB or more, which would silently drop a claim.
const KERNEL_VALUE_MAX = 4096;
const HEX4 = /^[0-9a-f]{4}$/;
const CLASS_PREFIX = /^(?:[0-9a-f]{2}){1,3}$/;

const where = (origin: Origin): string => `${origin.file}:${origin.line}`;

/** The parser's patterns, checked again: nothing reaches a rule value unproven. */
function checkSelectors(selectors: Selectors, origin: Origin): void {
  const refuse = (what: string): never => {
    throw new RuntimeFailure(
      `${commentText(where(origin))}: ${what} is not a valid selector; no udev rules were written`,
    );
  };
  for (const a of selectors.addresses) if (parseAddressSelector(a) !== a) refuse(`Address=${quoteForDisplay(a)}`);
  for (const pf of selectors.vfsOf) if (parsePfSelector(pf) !== pf) refuse(`VfsOf=${quoteForDisplay(pf)}`);
  for (const c of selectors.classes) if (!CLASS_PREFIX.test(c)) refuse(`Class=${quoteForDisplay(c)}`);
  for (const id of selectors.ids) {
    const parts = [id.vendor, id.device];
    if (id.subsystemVendor !== undefined || id.subsystemDevice !== undefined)
      parts.push(id.subsystemVendor ?? "", id.subsystemDevice ?? "");
    if (!parts.every((p) => HEX4.test(p))) refuse(`Ids=${quoteForDisplay(parts.join(":"))}`);
  }
}

function idConditions(id: IdSelector): RuleToken[] {
  const conditions = [is("ATTR", `0x${id.vendor}`, "vendor"), is("ATTR", `0x${id.device}`, "device")];
  if (id.subsystemVendor !== undefined && id.subsystemDevice !== undefined) {
    conditions.push(
      is("ATTR", `0x${id.subsystemVendor}`, "subsystem_vendor"),
      is("ATTR", `0x${id.subsystemDevice}`, "subsystem_device"),
    );
  }
  return conditions;
}

function alternatives(values: readonly string[]): string[] {
  const chunks: string[] = [];
  let current = "";
  for (const value of values) {
    if (current !== "" && current.length + 1 + value.length > KERNEL_VALUE_MAX) {
      chunks.push(current);
      current = value;
    } else current = current === "" ? value : `${current}|${value}`;
  }
  if (current !== "") chunks.push(current);
  return chunks;
}

interface Reach {
  /** Lines of conditions (ORed); empty: can match no device that can exist now. */
  readonly sets: RuleToken[][];
  /** Why the conditions are broader than the selectors (udev cannot tell), or null: exact. */
  readonly unknown: string | null;
}

function reachOf(selectors: Selectors, origin: Origin, vfAddressesOf: VfAddressesOf): Reach {
  checkSelectors(selectors, origin);
  const common: RuleToken[] = [];
  let kernel: readonly string[] | null = selectors.addresses.length > 0 ? selectors.addresses : null;
  let unknown: string | null = null;
  if (selectors.vfsOf.length > 0) {
    common.push(is("TEST", TEST_PATH.isVf));
    const lists = selectors.vfsOf.map((pf) => ({ pf, vfs: vfAddressesOf(pf) }));
    const missing = lists.filter((l) => l.vfs === null).map((l) => l.pf);
    if (missing.length === 0) {
      let addresses = lists.flatMap((l) => l.vfs as readonly string[]);
      const bad = addresses.find((a) => !isSysfsPciName(a));
      if (bad !== undefined) throw new RuntimeFailure(`unexpected VF address ${quoteForDisplay(bad)} from sysfs`);
      if (selectors.addresses.length > 0)
        addresses = addresses.filter((a) => selectors.addresses.some((glob) => fnmatch(glob, a)));
      if (addresses.length === 0) return { sets: [], unknown: null };
      kernel = addresses;
    } else {
      unknown = `the VF addresses of ${missing.join(", ")} are not known now`;
    }
  }
  const classes = selectors.classes.map((prefix) => `0x${prefix}${"?".repeat(6 - prefix.length)}`);
  const kernelSets = kernel === null ? [[]] : alternatives(kernel).map((value) => [is("KERNEL", value)]);
  const classSets = classes.length === 0 ? [[]] : alternatives(classes).map((value) => [is("ATTR", value, "class")]);
  const idSets = selectors.ids.length === 0 ? [[]] : selectors.ids.map(idConditions);
  return {
    sets: kernelSets.flatMap((k) => classSets.flatMap((c) => idSets.map((ids) => [...k, ...common, ...c, ...ids]))),
    unknown,
  };
}

// The mark is only a trace for a reader of `udevadm info` (the helper looks for any value),
// so it names the claim in a form that is a safe value whatever the file is called.
const SAFE_MARK = /^[A-Za-z0-9_.:/+-]+$/;
const MARK_MAX = 256;

export function claimMark(origin: Origin): string {
  const text = where(origin);
  const mark = SAFE_MARK.test(text)
    ? text
    : Array.from(Buffer.from(text, "utf8"), (byte) => {
        const c = String.fromCharCode(byte);
        return /[A-Za-z0-9.:/+-]/.test(c) ? c : `_${byte.toString(16).padStart(2, "0")}`;
      }).join("");
  return mark.length > MARK_MAX
    ? `${mark.slice(0, MARK_MAX - 4 - String(origin.line).length)}...:${origin.line}`
    : mark;
}

type Line = { readonly comment: string } | { readonly tokens: RuleToken[] };

function render(lines: readonly Line[]): string {
  try {
    return [...lines.map((l) => ("comment" in l ? `# ${commentText(l.comment)}` : renderRuleLine(l.tokens))), ""].join(
      "\n",
    );
  } catch (error) {
    if (error instanceof UnsafeRuleTextError) throw new RuntimeFailure(`${error.message}; no udev rules were written`);
    throw error;
  }
}

/** Proves that `text` reads back, as udev reads it, as exactly the intended rules. */
function proveRoundTrip(text: string, lines: readonly Line[]): void {
  const refuse = (why: string): never => {
    throw new RuntimeFailure(`generated udev rules do not read back as intended (${why}); no udev rules were written`);
  };
  if (controlCharacterAt(text) >= 0) refuse("a control character");
  const intended = lines.flatMap((l) => ("tokens" in l ? [l.tokens] : []));
  const read = tokenizeRules(text);
  if (read.errors[0] !== undefined) refuse(`line ${read.errors[0].line}: ${read.errors[0].message}`);
  if (read.rules.length !== intended.length) refuse(`${read.rules.length} rules instead of ${intended.length}`);
  read.rules.forEach((rule, i) => {
    const want = intended[i] as RuleToken[];
    const same =
      rule.tokens.length === want.length &&
      rule.tokens.every(
        (t, j) =>
          t.key === want[j]?.key &&
          t.attr === want[j]?.attr &&
          t.op === want[j]?.op &&
          t.value === want[j]?.value &&
          t.escaped === undefined,
      );
    if (!same) refuse(`line ${rule.line}`);
  });
}

/** OWNER= and GROUP=, and apart from them MODE=, for one node, each value proven by its pattern again. */
function ownershipTokens(node: NodeOwnership): { readonly owner: RuleToken[]; readonly mode: RuleToken[] } {
  const refuse = (what: string): never => {
    throw new RuntimeFailure(
      `${commentText(where(node.claim.origin))}: ${what} is not a valid value; no udev rules were written`,
    );
  };
  const owner: RuleToken[] = [];
  const mode: RuleToken[] = [];
  if (node.owner !== null) {
    if (!isAccountName(node.owner.user)) refuse(`Owner user ${quoteForDisplay(node.owner.user)}`);
    owner.push(set("OWNER", node.owner.user));
    if (node.owner.group !== null) {
      if (!isAccountName(node.owner.group)) refuse(`Owner group ${quoteForDisplay(node.owner.group)}`);
      owner.push(set("GROUP", node.owner.group));
    }
  }
  if (node.mode !== null) {
    if (!isNodeMode(node.mode)) refuse(`Mode ${quoteForDisplay(node.mode)}`);
    mode.push(set("MODE", node.mode));
  }
  return { owner, mode };
}

/** The group node's TEST: its group (udev puts the group number in $kernel) holds the device. */
function groupHoldsDevice(address: string): string {
  return `${sysfsPaths(DEFAULT_PATHS.sysfsRoot).iommuGroups}/$kernel/devices/${address}`;
}

/** Whether a TEST path is one groupHoldsDevice writes, for the checker. */
function isGroupHoldsDevice(value: string): boolean {
  const prefix = groupHoldsDevice("");
  return value.startsWith(prefix) && isSysfsPciName(value.slice(prefix.length));
}

/**
 * The ownership section, after the claims' section: no RUN, so no process starts for a
 * node. The group node (`vfio` subsystem, named by its group number, no PCI parent) is
 * matched by the device its group holds, never by the group's number now: after a hardware
 * change renumbers the groups, a number would give the owner another device's node. The
 * cdev (`vfio-dev`, a child of the PCI device) is matched by its parent's address. MODE= has
 * a line of its own: systemd 258 and 259 drop a whole line whose OWNER= or GROUP= names an
 * account that is not a system account (docs/kernel-facts.md, section 8), and the mode must
 * not go with it. Every event but remove: udev applies permissions again on change events,
 * and a node that matched no rule then would go back to root-only.
 */
function ownershipLines(nodes: readonly NodeOwnership[]): Line[] {
  if (nodes.length === 0) return [];
  const end = set("GOTO", OWNER_END_LABEL);
  const lines: Line[] = [
    { comment: "Owner= and Mode= of the VFIO nodes of claimed devices present at apply time." },
    { tokens: [is("ACTION", "remove"), end] },
    { tokens: [{ ...is("SUBSYSTEM", "vfio|vfio-dev"), op: "!=" }, end] },
  ];
  for (const node of nodes) {
    if (!isSysfsPciName(node.address))
      throw new RuntimeFailure(`unexpected device address ${quoteForDisplay(node.address)}`);
    const { owner, mode } = ownershipTokens(node);
    lines.push({ comment: `${node.address}, [Claim] ${where(node.claim.origin)}` });
    const matches: RuleToken[][] = [
      [is("SUBSYSTEM", "vfio-dev"), is("KERNEL", "vfio[0-9]*"), is("KERNELS", node.address)],
    ];
    if (node.iommuGroup !== null)
      matches.unshift([is("SUBSYSTEM", "vfio"), is("KERNEL", "[0-9]*"), is("TEST", groupHoldsDevice(node.address))]);
    for (const match of matches)
      for (const assigned of [owner, mode]) if (assigned.length > 0) lines.push({ tokens: [...match, ...assigned] });
  }
  lines.push({ tokens: [set("LABEL", OWNER_END_LABEL)] });
  return lines;
}

/** How the rules decide for the devices one mark names. */
type MarkPlan =
  /** The mark may be broader than the claim (udev cannot tell): marked for the helper, never held. */
  | { readonly kind: "unheld" }
  /** Held, and decided by the helper (no decisions, a pin whose driver name is not known). */
  | { readonly kind: "hold" }
  | { readonly kind: "auto" }
  | { readonly kind: "pin"; readonly module: string; readonly driver: string };

/**
 * A claim's plan: unheld when its reach is broader than the claim; pinned (its Driver=,
 * when the driver name is known), ranked (the compiled ranking), or held for the helper.
 */
function planOf(driver: string, reach: Reach, decisions: Decisions | null): MarkPlan {
  if (reach.unknown !== null) return { kind: "unheld" };
  if (decisions === null || "problem" in decisions) return { kind: "hold" };
  if (driver === "auto") return { kind: "auto" };
  const pin = decisions.pin(driver);
  if (pin === null || !isSafeModuleName(pin.module) || !isSafeDriverName(pin.driver)) return { kind: "hold" };
  return { kind: "pin", module: pin.module, driver: pin.driver };
}

/** Two claims whose marks collide (names cut short) share the most careful of their plans. */
function carefulOf(a: MarkPlan, b: MarkPlan): MarkPlan {
  if (a.kind === "unheld" || b.kind === "unheld") return { kind: "unheld" };
  return a.kind === b.kind && (a.kind !== "pin" || JSON.stringify(a) === JSON.stringify(b)) ? a : { kind: "hold" };
}

function planLine(mark: string, plan: MarkPlan, decideEnd: RuleToken): Line | null {
  const marked = is("ENV", mark, CLAIM_ENV);
  switch (plan.kind) {
    case "unheld":
      return { tokens: [marked, decideEnd] };
    case "hold":
      return null;
    case "auto":
      return { tokens: [marked, set("ENV", "auto", RULE_ENV.plan)] };
    case "pin":
      return {
        tokens: [
          marked,
          set("ENV", "pin", RULE_ENV.plan),
          set("ENV", plan.module, RULE_ENV.planModule),
          set("ENV", plan.driver, RULE_ENV.planDriver),
        ],
      };
  }
}

interface DecisionInputs {
  readonly decisions: Decisions | null;
  /** Each mark's plan, in the claims' order. */
  readonly plans: ReadonlyMap<string, MarkPlan>;
  /** Conditions of the exclusions whose reach udev cannot tell: the devices they may take. */
  readonly unsureExclusions: readonly { readonly at: string; readonly sets: readonly RuleToken[][] }[];
}

/**
 * The hold and the compiled decision, for devices a claim marked (docs/design.md, "Holds").
 * First "ours or not": a device that the eligibility table (policy/holdEligibility.ts) rules
 * out, that an exclusion udev cannot judge may take, or whose claim reaches further than
 * udev can tell, gets no hold and no plan; the helper decides about it. Then the plan per
 * claim, the hold, and, on the kernel the ranking was compiled for, `kmod load` of the chosen
 * module as an IMPORT{builtin} (udev runs it at once, during the rules; a RUN{builtin} would
 * run only after them), and only once the chosen driver is registered, its override and a
 * probe. Debian's udev initramfs hook copies every /etc/udev/rules.d file into the
 * initramfs, and a host-only dracut does too: there the module is usually missing, and the
 * device must stay held for the real root rather than keep an override nothing will ever
 * bind. The line that writes the override also tells the helper that the rules wrote it
 * (RULE_ENV.module and .driver): an override it did not see written now is not ours.
 */
function decisionLines(inputs: DecisionInputs): Line[] {
  const { decisions } = inputs;
  const end = set("GOTO", DECIDE_END_LABEL);
  const lines: Line[] = [
    { comment: "Hold claimed devices that no driver has yet, then bind them without a process." },
    { tokens: [{ ...is("ENV", "?*", CLAIM_ENV), op: "!=" }, end] },
  ];
  for (const rule of HOLD_RULES) {
    lines.push({ comment: `Not held when ${rule.why}.` }, { tokens: [{ ...rule.udev }, end] });
  }
  for (const exclusion of inputs.unsureExclusions) {
    lines.push(
      { comment: `${exclusion.at} may exclude these; the helper decides, without a hold.` },
      ...exclusion.sets.map((s) => ({ tokens: [...s, end] })),
    );
  }
  const planLines = [...inputs.plans].flatMap(([mark, plan]) => {
    const line = planLine(mark, plan, end);
    return line === null ? [] : [line];
  });
  if (planLines.length > 0) lines.push({ comment: "Each claim's plan." }, ...planLines);
  lines.push(
    { comment: `${HOLD_SWITCH}=0 on the kernel command line turns holds off (the recovery path).` },
    { tokens: [{ key: "IMPORT", attr: "cmdline", op: "=", value: HOLD_SWITCH }] },
    { tokens: [is("ENV", "0", HOLD_SWITCH), end] },
    { tokens: [set("ATTR", HOLD_OVERRIDE, "driver_override")] },
  );
  if (decisions === null) {
    lines.push({ comment: "compiled-for: none (held until the helper decides)" });
  } else if ("problem" in decisions) {
    lines.push({ comment: `compiled-for: none (${decisions.problem})` });
  } else {
    if (!isSafeKernelRelease(decisions.release))
      throw new RuntimeFailure(`unexpected kernel release ${quoteForDisplay(decisions.release)}`);
    if (!/^[0-9a-f]{8,64}$/.test(decisions.digest))
      throw new RuntimeFailure(`unexpected ranking digest ${quoteForDisplay(decisions.digest)}`);
    lines.push(
      { comment: `compiled-for: ${decisions.release} ${decisions.digest}` },
      { comment: "No plan (a pin whose driver name is not known): held for the helper." },
      { tokens: [{ ...is("ENV", PLANNED, RULE_ENV.plan), op: "!=" }, end] },
      { comment: "Compiled for one kernel: on any other the devices stay held and the helper decides." },
      { tokens: [{ ...is("SYSCTL", decisions.release, RELEASE_KEY), op: "!=" }, end] },
      { tokens: [is("ENV", "pin", RULE_ENV.plan), set("GOTO", DECIDED_LABEL)] },
      { comment: "The ranking, least specific first: the last line that matches wins." },
      ...decisions.ranking.map((tokens) => ({ tokens: [...tokens] })),
      { tokens: [set("LABEL", DECIDED_LABEL)] },
      { comment: "No driver name known for the winner (its module was never loaded): held for the helper." },
      { tokens: [{ ...is("ENV", "?*", RULE_ENV.planDriver), op: "!=" }, end] },
      { comment: "Load the winner now; where it cannot load (an initramfs without it), the device stays held." },
      { tokens: [{ key: "IMPORT", attr: "builtin", op: "=", value: KMOD_LOAD }] },
      { tokens: [{ ...is("TEST", TEST_PATH.driverRegistered), op: "!=" }, end] },
      {
        tokens: [
          set("ATTR", SET_DRIVER_OVERRIDE, "driver_override"),
          set("ENV", WROTE_MODULE, RULE_ENV.module),
          set("ENV", SET_DRIVER_OVERRIDE, RULE_ENV.driver),
        ],
      },
      { tokens: [set("ATTR", PROBE_NOW, PROBE_ATTR)] },
    );
  }
  lines.push({ tokens: [set("LABEL", DECIDE_END_LABEL)] });
  return lines;
}

export function generateClaimRules(
  config: Pick<ClaimConfig, "claims" | "exclusions">,
  digest: string,
  configDir: string,
  vfAddressesOf: VfAddressesOf,
  ownership: readonly NodeOwnership[] = [],
  decisions: Decisions | null = null,
  generator: string = VERSION,
): string {
  if (!/^[A-Za-z0-9]{1,128}$/.test(digest))
    throw new RuntimeFailure(`unexpected config digest ${quoteForDisplay(digest)}`);
  const end = set("GOTO", END_LABEL);
  const lines: Line[] = [
    { comment: `Generated by "vfio-autobind apply" from ${configDir}. Do not edit: change the` },
    { comment: `claims there and run "vfio-autobind apply" again.` },
    { comment: `config-digest: ${digest}` },
    { comment: `${GENERATOR_LABEL}${generatorVersion(generator)}` },
    { tokens: [{ ...is("ACTION", "add"), op: "!=" }, end] },
    { tokens: [{ ...is("SUBSYSTEM", "pci"), op: "!=" }, end] },
  ];
  const unsureExclusions: { at: string; sets: RuleToken[][] }[] = [];
  for (const exclusion of config.exclusions) {
    const reach = reachOf(exclusion.selectors, exclusion.origin, vfAddressesOf);
    const at = `[Exclude] ${where(exclusion.origin)}`;
    if (reach.sets.length === 0) {
      lines.push({ comment: `${at} (excludes no device that can exist now)` });
    } else if (reach.unknown !== null) {
      // A broader rule would skip devices other claims select; the helper applies it exactly.
      lines.push({ comment: `${at}: left to the helper (${reach.unknown})` });
      unsureExclusions.push({ at, sets: reach.sets });
    } else {
      lines.push({ comment: at }, ...reach.sets.map((s) => ({ tokens: [...s, end] })));
    }
  }
  const plans = new Map<string, MarkPlan>();
  for (const claim of config.claims) {
    const mark = claimMark(claim.origin);
    const plan = planOf(claim.driver, reachOf(claim.selectors, claim.origin, vfAddressesOf), decisions);
    const known = plans.get(mark);
    plans.set(mark, known === undefined ? plan : carefulOf(known, plan));
  }
  // Last first: udev keeps the last assignment, and the first matching claim decides (selectClaim).
  for (const claim of [...config.claims].reverse()) {
    const reach = reachOf(claim.selectors, claim.origin, vfAddressesOf);
    const at = `[Claim] ${where(claim.origin)}`;
    if (reach.sets.length === 0) {
      lines.push({ comment: `${at} (selects no device that can exist now)` });
      continue;
    }
    const note = reach.unknown === null ? "" : ` (${reach.unknown}: marks more, the helper checks, nothing is held)`;
    const mark = set("ENV", claimMark(claim.origin), CLAIM_ENV);
    lines.push({ comment: `${at}${note}` }, ...reach.sets.map((s) => ({ tokens: [...s, mark] })));
  }
  lines.push(
    { tokens: [set("LABEL", END_LABEL)] },
    ...decisionLines({ decisions, plans, unsureExclusions }),
    ...ownershipLines(ownership),
  );
  const text = render(lines);
  proveRoundTrip(text, lines);
  return text;
}

const GENERATOR_LABEL = "generator: vfio-autobind ";
/**
 * The version in the header: what the helper that reads these rules must understand. A
 * caller other than this build (the VM suites' host side) names the version it stands for.
 */
const generatorVersion = (version: string = VERSION): string =>
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

/** Attributes the claims' selectors match. */
const MATCHED_ATTRS = new Set(["vendor", "device", "subsystem_vendor", "subsystem_device", "class"]);
const PLANS = new Set<string>(["auto", "pin"]);
const sameToken = (a: RuleToken, b: { key: string; attr: string | null; op: string; value: string }): boolean =>
  a.key === b.key && a.attr === b.attr && a.op === b.op && a.value === b.value;

function generatedToken(t: RuleToken): boolean {
  if (t.op === "==" || t.op === "!=") {
    if (HOLD_RULES.some((rule) => sameToken(t, rule.udev))) return true;
    if (t.key === "ATTR") return t.attr !== null && MATCHED_ATTRS.has(t.attr);
    if (t.key === "ENV")
      return (
        t.attr === CLAIM_ENV ||
        (t.attr === RULE_ENV.plan && (t.value === PLANNED || PLANS.has(t.value))) ||
        (t.attr === RULE_ENV.planDriver && t.value === "?*") ||
        t.attr === "MODALIAS" ||
        t.attr === HOLD_SWITCH
      );
    if (t.key === "SYSCTL") return t.attr === RELEASE_KEY && isSafeKernelRelease(t.value);
    if (t.key === "TEST") return t.attr === null && (TESTS.has(t.value) || isGroupHoldsDevice(t.value));
    return t.attr === null && ["ACTION", "SUBSYSTEM", "KERNEL", "KERNELS"].includes(t.key);
  }
  if (t.op !== "=") return false;
  if (t.key === "IMPORT")
    return (t.attr === "cmdline" && t.value === HOLD_SWITCH) || (t.attr === "builtin" && t.value === KMOD_LOAD);
  if (t.key === "ATTR") {
    if (t.attr === "driver_override") return t.value === HOLD_OVERRIDE || t.value === SET_DRIVER_OVERRIDE;
    return t.attr === PROBE_ATTR && t.value === PROBE_NOW;
  }
  if (t.key === "ENV") {
    if (t.attr === CLAIM_ENV) return true;
    if (t.attr === RULE_ENV.plan) return PLANS.has(t.value);
    if (t.attr === RULE_ENV.planModule) return isSafeModuleName(t.value);
    if (t.attr === RULE_ENV.planDriver) return t.value === "" || isSafeDriverName(t.value);
    if (t.attr === RULE_ENV.module) return t.value === WROTE_MODULE;
    if (t.attr === RULE_ENV.driver) return t.value === SET_DRIVER_OVERRIDE;
    return false;
  }
  if (t.attr !== null) return false;
  if (t.key === "OWNER" || t.key === "GROUP") return isAccountName(t.value);
  if (t.key === "MODE") return isNodeMode(t.value);
  return (t.key === "GOTO" || t.key === "LABEL") && LABELS.includes(t.value);
}

/**
 * Why an installed rules file is not one generateClaimRules could have written (a syntax
 * error, a key it never writes such as RUN, a line not written as it writes lines), or
 * null when every rule in it reads back as generated.
 */
export function generatedRulesProblem(text: string): RuleSyntaxError | null {
  const lineOf = (index: number): number => text.slice(0, index).split("\n").length;
  const control = controlCharacterAt(text);
  if (control >= 0) return { line: lineOf(control), message: "contains a control character" };
  const read = tokenizeRules(text);
  if (read.errors[0] !== undefined) return read.errors[0];
  for (const rule of read.rules) {
    const other = rule.tokens.find((t) => !generatedToken(t));
    if (other !== undefined) {
      const key = `${other.key}${other.attr === null ? "" : `{${other.attr}}`}${other.op}`;
      return { line: rule.line, message: `${quoteForDisplay(key)} is not a rule vfio-autobind generates` };
    }
    let rendered: string | null;
    try {
      rendered = renderRuleLine(rule.tokens);
    } catch {
      rendered = null;
    }
    if (rendered !== rule.text) return { line: rule.line, message: "not written as vfio-autobind writes its rules" };
  }
  return null;
}
