/**
 * The checker of installed rules: whether a rules file is one generateClaimRules could have
 * written, token by token (the values it accepts are those of ruleVocabulary.ts).
 */
import { HOLD_OVERRIDE, HOLD_SWITCH } from "../policy/hold.js";
import { HOLD_RULES } from "../policy/eligibility.js";
import { isNodeMode, isAccountName } from "../config/nodeAccess.js";
import { isSafeDriverName, isSafeKernelRelease, isSafeModuleName } from "../paths.js";
import { controlCharacterAt, quoteForDisplay } from "../text/safeText.js";
import { RULE_ENV } from "./ruleEnv.js";
import {
  CLAIM_ENV,
  isGroupHoldsDevice,
  KMOD_LOAD,
  LABELS,
  PLANNED,
  PLANS,
  PROBE_ATTR,
  PROBE_NOW,
  RELEASE_KEY,
  SET_DRIVER_OVERRIDE,
  TESTS,
  WROTE_MODULE,
} from "./ruleVocabulary.js";
import { renderRuleLine, tokenizeRules, type RuleSyntaxError, type RuleToken } from "./udevRuleSyntax.js";

/** Attributes the claims' selectors match. */
const MATCHED_ATTRS = new Set(["vendor", "device", "subsystem_vendor", "subsystem_device", "class"]);
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
