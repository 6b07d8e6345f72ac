/**
 * A small evaluator for the subset of udev rule syntax vfio-autobind writes and ships
 * (ACTION, SUBSYSTEM, KERNEL, ATTR{}, TEST, ENV{} matches; ENV{} and RUN assignments;
 * GOTO/LABEL), read by the real tokenizer (src/udev/udevRuleSyntax.ts), with udev's
 * semantics: every match in a line must hold, values are fnmatch globs with `|`
 * alternatives, files run in name order. It tells the tests which devices
 * would get a RUN, i.e. for which devices udev would start a process. The real udevd runs
 * the same files in the QEMU suite.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fnmatch } from "../src/alias/fnmatch.js";
import { tokenizeRules, type RuleToken } from "../src/udev/udevRuleSyntax.js";

type Token = RuleToken;

export interface UdevDevice {
  readonly kernel: string;
  readonly subsystem: string;
  /** The device's sysfs directory, for ATTR{} and TEST. */
  readonly dir: string;
  /** Kernel names of the device and its parents, innermost first, for KERNELS (default: its own). */
  readonly kernels?: readonly string[];
}

export interface UdevResult {
  readonly env: Record<string, string>;
  readonly run: string[];
  /** OWNER=, GROUP=, MODE= assigned to the device's node (the last assignment wins, as in udev). */
  readonly node: { owner?: string; group?: string; mode?: string };
}

const matchesGlob = (pattern: string, value: string): boolean => pattern.split("|").some((alt) => fnmatch(alt, value));

export function evaluateRules(ruleFiles: readonly string[], device: UdevDevice, action = "add"): UdevResult {
  const env: Record<string, string> = {};
  const run: string[] = [];
  const node: { owner?: string; group?: string; mode?: string } = {};
  for (const file of [...ruleFiles].sort((a, b) => path.basename(a).localeCompare(path.basename(b)))) {
    // The real tokenizer, as udevd reads the file; a line udevd would refuse fails the test.
    const read = tokenizeRules(fs.readFileSync(file, "utf8"));
    if (read.errors[0] !== undefined) throw new Error(`${file}:${read.errors[0].line}: ${read.errors[0].message}`);
    const lines = read.rules.map((rule) => ({ tokens: rule.tokens, where: `${file}:${rule.line}` }));
    let gotoLabel: string | null = null;
    for (const { tokens, where } of lines) {
      if (gotoLabel !== null) {
        if (tokens.some((t) => t.key === "LABEL" && t.value === gotoLabel)) gotoLabel = null;
        continue;
      }
      const valueOf = (t: Token): string | null => {
        switch (t.key) {
          case "ACTION":
            return action;
          case "SUBSYSTEM":
            return device.subsystem;
          case "KERNEL":
            return device.kernel;
          case "KERNELS":
            return (device.kernels ?? [device.kernel]).find((k) => matchesGlob(t.value, k)) ?? device.kernel;
          case "ENV":
            return env[t.attr as string] ?? "";
          case "ATTR": {
            try {
              return fs.readFileSync(path.join(device.dir, t.attr as string), "utf8").trim();
            } catch {
              return null;
            }
          }
          case "TEST":
            return fs.existsSync(path.join(device.dir, t.value)) ? t.value : null;
          default:
            throw new Error(`${where}: key ${t.key} is outside the evaluated subset`);
        }
      };
      let holds = true;
      const unsupported = tokens.find((t) => t.escaped === true || !["==", "!=", "=", "+="].includes(t.op));
      if (unsupported !== undefined)
        throw new Error(`${where}: ${unsupported.key}${unsupported.op} is outside the evaluated subset`);
      for (const t of tokens.filter((t) => t.op === "==" || t.op === "!=")) {
        const value = valueOf(t);
        const matched = value !== null && (t.key === "TEST" ? true : matchesGlob(t.value, value));
        if ((t.op === "==") !== matched) {
          holds = false;
          break;
        }
      }
      if (!holds) continue;
      for (const t of tokens.filter((t) => t.op === "=" || t.op === "+=")) {
        if (t.key === "ENV") env[t.attr as string] = t.value;
        else if (t.key === "RUN") run.push(t.value);
        else if (t.key === "GOTO") gotoLabel = t.value;
        else if (t.key === "OWNER") node.owner = t.value;
        else if (t.key === "GROUP") node.group = t.value;
        else if (t.key === "MODE") node.mode = t.value;
        else if (t.key !== "LABEL") throw new Error(`${where}: assignment to ${t.key} is outside the evaluated subset`);
      }
    }
  }
  return { env, run, node };
}
