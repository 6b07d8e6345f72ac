/**
 * The decision section of the generated rules: the hold, and the bind the rules carry out
 * themselves from the ranking compiled for one kernel, for the devices a claim marked.
 */
import { RuntimeFailure } from "../errors.js";
import { HOLD_OVERRIDE, HOLD_SWITCH } from "../policy/hold.js";
import { HOLD_RULES } from "../policy/eligibility.js";
import { isSafeDriverName, isSafeKernelRelease, isSafeModuleName } from "../paths.js";
import { quoteForDisplay } from "../text/safeText.js";
import type { Reach } from "./claimReach.js";
import { RULE_ENV } from "./ruleEnv.js";
import {
  CLAIM_ENV,
  DECIDE_END_LABEL,
  DECIDED_LABEL,
  is,
  KMOD_LOAD,
  type Line,
  PLANNED,
  PROBE_ATTR,
  PROBE_NOW,
  RELEASE_KEY,
  set,
  SET_DRIVER_OVERRIDE,
  TEST_PATH,
  WROTE_MODULE,
} from "./ruleVocabulary.js";
import type { RuleToken } from "./udevRuleSyntax.js";

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

/** How the rules decide for the devices one mark names. */
export type MarkPlan =
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
export function planOf(driver: string, reach: Reach, decisions: Decisions | null): MarkPlan {
  if (reach.unknown !== null) return { kind: "unheld" };
  if (decisions === null || "problem" in decisions) return { kind: "hold" };
  if (driver === "auto") return { kind: "auto" };
  const pin = decisions.pin(driver);
  if (pin === null || !isSafeModuleName(pin.module) || !isSafeDriverName(pin.driver)) return { kind: "hold" };
  return { kind: "pin", module: pin.module, driver: pin.driver };
}

/** Two claims whose marks collide (names cut short) share the most careful of their plans. */
export function carefulOf(a: MarkPlan, b: MarkPlan): MarkPlan {
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

export interface DecisionInputs {
  readonly decisions: Decisions | null;
  /** Each mark's plan, in the claims' order. */
  readonly plans: ReadonlyMap<string, MarkPlan>;
  /** Conditions of the exclusions whose reach udev cannot tell: the devices they may take. */
  readonly unsureExclusions: readonly { readonly at: string; readonly sets: readonly RuleToken[][] }[];
}

/**
 * The hold and the compiled decision, for devices a claim marked (docs/design.md, "Holds").
 * First "ours or not": a device that the eligibility table (policy/eligibility.ts) rules
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
export function decisionLines(inputs: DecisionInputs): Line[] {
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
