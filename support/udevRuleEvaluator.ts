/**
 * A small evaluator for the subset of udev rule syntax vfio-autobind writes and ships
 * (ACTION, SUBSYSTEM, KERNEL, KERNELS, ATTR{}, SYSCTL{}, TEST, ENV{} matches; IMPORT{cmdline}
 * and IMPORT{builtin}="kmod load ..."; ENV{}, ATTR{}, RUN and RUN{builtin} assignments;
 * GOTO/LABEL), read by the real tokenizer
 * (src/rules/udevRuleSyntax.ts), with udev's semantics (systemd's udev-rules.c):
 *   - every match in a line must hold; values are fnmatch globs with `|` alternatives;
 *   - a line's matches run before its assignments, each group in udev's token-type order
 *     (udev sorts a line's tokens by type), so IMPORT comes after the other matches and
 *     ENV= before ATTR= before RUN{builtin} before RUN;
 *   - an ATTR{} match on an attribute that cannot be read fails, whatever its operator;
 *     a SYSCTL{} that does not exist reads as empty; IMPORT{cmdline} fails when the option
 *     is not on the command line, and sets the property to its value (or "1") when it is;
 *   - IMPORT{builtin}="kmod load M" loads M at once, while the rules run (options.kmodLoad),
 *     and holds whether or not M loaded (udev's kmod builtin ignores the outcome);
 *   - a TEST path is relative to the device's directory, or absolute under /sys
 *     (options.sysfsRoot stands for /sys);
 *   - `ENV{X}=""` removes the property; `$kernel` and `$env{NAME}` are substituted in
 *     assigned values and TEST paths;
 *   - files run in name order.
 * It tells the tests which devices would get a RUN (for which devices udev would start a
 * process), what the rules write to sysfs and which builtins they run. The real udevd runs
 * the same files in the QEMU suite.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fnmatch } from "../src/alias/fnmatch.js";
import { tokenizeRules, type RuleToken } from "../src/rules/udevRuleSyntax.js";

type Token = RuleToken;

export interface UdevDevice {
  readonly kernel: string;
  readonly subsystem: string;
  /** The device's sysfs directory, for ATTR{} and TEST. */
  readonly dir: string;
  /** Kernel names of the device and its parents, innermost first, for KERNELS (default: its own). */
  readonly kernels?: readonly string[];
  /**
   * The properties of the device's uevent. MODALIAS defaults to the device's `modalias`
   * file (as the kernel puts it in the uevent), when there is one.
   */
  readonly env?: Readonly<Record<string, string>>;
}

export interface UdevOptions {
  /** SYSCTL{} values by name (`kernel/osrelease`, or with dots); a missing one reads as empty. */
  readonly sysctl?: Readonly<Record<string, string>>;
  /** The kernel command line IMPORT{cmdline} reads (/proc/cmdline); default: empty. */
  readonly cmdline?: string;
  /** The glob matcher for one alternative (default: our fnmatch); a test may pass glibc's answers. */
  readonly fnmatch?: (pattern: string, value: string) => boolean;
  /** What /sys is for an absolute TEST path; a rule that tests one without it fails the test. */
  readonly sysfsRoot?: string;
  /** Loads a module for IMPORT{builtin}="kmod load M", at once; a throw is a failed load, which udev ignores. */
  readonly kmodLoad?: (module: string) => void;
}

export interface AttrWrite {
  /** The attribute as the rule names it: `driver_override`, `[subsystem/pci]drivers_probe`. */
  readonly attr: string;
  /** The value written, after substitution. */
  readonly value: string;
}

export interface UdevResult {
  readonly env: Record<string, string>;
  /** RUN+= programs, in order. */
  readonly run: string[];
  /**
   * Builtin commands, substituted, in the order udev runs them (in-process): each
   * IMPORT{builtin} while the rules run, then each RUN{builtin}+= after them.
   */
  readonly builtins: string[];
  /** ATTR{}= writes, substituted, in the order udev makes them. */
  readonly attrWrites: AttrWrite[];
  /** OWNER=, GROUP=, MODE= assigned to the device's node (the last assignment wins, as in udev). */
  readonly node: { owner?: string; group?: string; mode?: string };
}

export interface RuleFileText {
  /** The file's name (its base name orders it among the others) for messages. */
  readonly name: string;
  readonly text: string;
}

// udev's token types in the order it sorts a line's tokens (udev-rules.c, UdevRuleTokenType).
const MATCH_ORDER = ["ACTION", "KERNEL", "ENV", "SUBSYSTEM", "ATTR", "SYSCTL", "KERNELS", "TEST", "IMPORT"];
const ASSIGN_ORDER = ["OWNER", "GROUP", "MODE", "ENV", "ATTR", "RUN{builtin}", "RUN"];
const LINE_LEVEL = new Set(["GOTO", "LABEL"]);

const isMatch = (t: Token): boolean => t.op === "==" || t.op === "!=" || t.key === "IMPORT";
const assignKey = (t: Token): string => (t.key === "RUN" && t.attr === "builtin" ? "RUN{builtin}" : t.key);

/** An `e"..."` value's C escapes, as udev reads them (the ones rules are written with). */
function unescapeC(raw: string, where: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => {
    const plain: Record<string, string> = { n: "\n", t: "\t", "\\": "\\", '"': '"' };
    const out = plain[c];
    if (out === undefined) throw new Error(`${where}: escape \\${c} is outside the evaluated subset`);
    return out;
  });
}

/** The value of a kernel command line option as systemd reads it (`-` and `_` alike; the last one counts). */
function cmdlineOption(cmdline: string, key: string): string | null | undefined {
  const same = (a: string): boolean => a.replace(/-/g, "_") === key.replace(/-/g, "_");
  let found: string | null | undefined;
  for (const word of cmdline.trim().split(/\s+/)) {
    if (word === "") continue;
    const eq = word.indexOf("=");
    if (eq < 0 ? same(word) : same(word.slice(0, eq))) found = eq < 0 ? null : word.slice(eq + 1);
  }
  return found;
}

export function evaluateRules(
  ruleFiles: readonly string[],
  device: UdevDevice,
  action = "add",
  options: UdevOptions = {},
): UdevResult {
  return evaluateRuleTexts(
    ruleFiles.map((file) => ({ name: file, text: fs.readFileSync(file, "utf8") })),
    device,
    action,
    options,
  );
}

/** As evaluateRules, with the files' text given. */
export function evaluateRuleTexts(
  files: readonly RuleFileText[],
  device: UdevDevice,
  action = "add",
  options: UdevOptions = {},
): UdevResult {
  const glob = options.fnmatch ?? fnmatch;
  const matchesGlob = (pattern: string, value: string): boolean => pattern.split("|").some((alt) => glob(alt, value));
  const env: Record<string, string> = { ...device.env };
  if (env["MODALIAS"] === undefined) {
    try {
      env["MODALIAS"] = fs.readFileSync(path.join(device.dir, "modalias"), "utf8").trim();
    } catch {
      // no modalias file: the uevent carries none
    }
  }
  const run: string[] = [];
  const builtins: string[] = [];
  const attrWrites: AttrWrite[] = [];
  const written = new Map<string, string>();
  const node: { owner?: string; group?: string; mode?: string } = {};

  const substitute = (value: string, where: string): string => {
    const out = value.replace(/\$kernel(?![A-Za-z0-9_{])|\$env\{([A-Za-z0-9_.]+)\}/g, (_, name: string | undefined) =>
      name === undefined ? device.kernel : (env[name] ?? ""),
    );
    // The substitutions above are the only ones vfio-autobind writes; anything else is not modelled.
    if (/[$%]/.test(value.replace(/\$kernel(?![A-Za-z0-9_{])|\$env\{[A-Za-z0-9_.]+\}/g, ""))) {
      throw new Error(`${where}: substitution in ${JSON.stringify(value)} is outside the evaluated subset`);
    }
    return out;
  };
  const readAttr = (attr: string): string | null => {
    const overlaid = written.get(attr);
    if (overlaid !== undefined) return overlaid;
    if (attr.startsWith("[")) return null; // another device's attribute: only what the rules wrote
    try {
      return fs.readFileSync(path.join(device.dir, attr), "utf8").trim();
    } catch {
      return null;
    }
  };
  const readSysctl = (name: string): string => {
    const sysctl = options.sysctl ?? {};
    return (sysctl[name] ?? sysctl[name.replace(/\./g, "/")] ?? sysctl[name.replace(/\//g, ".")] ?? "").trim();
  };

  for (const file of [...files].sort((a, b) => path.basename(a.name).localeCompare(path.basename(b.name)))) {
    // The real tokenizer, as udevd reads the file; a line udevd would refuse fails the test.
    const read = tokenizeRules(file.text);
    if (read.errors[0] !== undefined) throw new Error(`${file.name}:${read.errors[0].line}: ${read.errors[0].message}`);
    const lines = read.rules.map((rule) => ({ tokens: rule.tokens, where: `${file.name}:${rule.line}` }));
    let gotoLabel: string | null = null;
    for (const { tokens, where } of lines) {
      if (gotoLabel !== null) {
        if (tokens.some((t) => t.key === "LABEL" && t.value === gotoLabel)) gotoLabel = null;
        continue;
      }
      const unsupported = tokens.find(
        (t) => (t.escaped === true && !(t.key === "ATTR" && t.op === "=")) || !["==", "!=", "=", "+="].includes(t.op),
      );
      if (unsupported !== undefined)
        throw new Error(`${where}: ${unsupported.key}${unsupported.op} is outside the evaluated subset`);
      const rank = (order: readonly string[], key: string): number => {
        const i = order.indexOf(key);
        if (i < 0) throw new Error(`${where}: key ${key} is outside the evaluated subset`);
        return i;
      };
      const matches = tokens
        .filter(isMatch)
        .map((t) => ({ t, r: rank(MATCH_ORDER, t.key) }))
        .sort((a, b) => a.r - b.r)
        .map(({ t }) => t);
      const assignments = tokens
        .filter((t) => !isMatch(t) && !LINE_LEVEL.has(t.key))
        .map((t) => ({ t, r: rank(ASSIGN_ORDER, assignKey(t)) }))
        .sort((a, b) => a.r - b.r)
        .map(({ t }) => t);

      /** Whether the token holds; IMPORT{cmdline} sets its property when it does. */
      const holds = (t: Token): boolean => {
        const test = (value: string | null): boolean =>
          value !== null && (t.op === "==") === matchesGlob(t.value, value);
        switch (t.key) {
          case "ACTION":
            return test(action);
          case "SUBSYSTEM":
            return test(device.subsystem);
          case "KERNEL":
            return test(device.kernel);
          case "KERNELS":
            return test((device.kernels ?? [device.kernel]).find((k) => matchesGlob(t.value, k)) ?? device.kernel);
          case "ENV":
            return test(env[t.attr as string] ?? "");
          case "ATTR":
            return test(readAttr(t.attr as string)); // unreadable: fails for == and != alike, as in udev
          case "SYSCTL":
            return test(readSysctl(t.attr as string));
          case "TEST": {
            const file = substitute(t.value, where);
            let full = path.join(device.dir, file);
            if (file.startsWith("/")) {
              if (!file.startsWith("/sys/") || options.sysfsRoot === undefined)
                throw new Error(`${where}: TEST of ${file} needs options.sysfsRoot`);
              full = path.join(options.sysfsRoot, file.slice("/sys/".length));
            }
            return (t.op === "==") === fs.existsSync(full);
          }
          case "IMPORT": {
            if (t.attr === "builtin") {
              const command = substitute(t.value, where);
              const module = /^kmod load (\S+)$/.exec(command)?.[1];
              if (module === undefined)
                throw new Error(`${where}: IMPORT{builtin}="${command}" is outside the evaluated subset`);
              builtins.push(command);
              try {
                options.kmodLoad?.(module);
              } catch {
                // udev's kmod builtin logs a failed load and goes on
              }
              return true;
            }
            if (t.attr !== "cmdline") throw new Error(`${where}: IMPORT{${t.attr}} is outside the evaluated subset`);
            const value = cmdlineOption(options.cmdline ?? "", t.value);
            if (value === undefined) return false;
            env[t.value] = value ?? "1";
            return true;
          }
          default:
            throw new Error(`${where}: key ${t.key} is outside the evaluated subset`);
        }
      };
      if (!matches.every(holds)) continue;

      for (const t of assignments) {
        const value = substitute(t.escaped === true ? unescapeC(t.value, where) : t.value, where);
        if (t.key === "ENV") {
          if (value === "") delete env[t.attr as string];
          else
            env[t.attr as string] =
              t.op === "+=" && env[t.attr as string] ? `${env[t.attr as string]} ${value}` : value;
        } else if (t.key === "ATTR") {
          attrWrites.push({ attr: t.attr as string, value });
          // The kernel cuts driver_override at its first newline; nothing left clears it.
          const cleared = t.attr === "driver_override" && value.split("\n")[0] === "";
          written.set(t.attr as string, cleared ? "(null)" : value);
        } else if (t.key === "RUN") {
          if (t.attr === "builtin") builtins.push(value);
          else if (t.attr === null || t.attr === "program") run.push(value);
          else throw new Error(`${where}: RUN{${t.attr}} is outside the evaluated subset`);
        } else if (t.key === "OWNER") node.owner = value;
        else if (t.key === "GROUP") node.group = value;
        else if (t.key === "MODE") node.mode = value;
      }
      const jump = tokens.find((t) => t.key === "GOTO");
      if (jump !== undefined) gotoLabel = jump.value;
    }
  }
  return { env, run, builtins, attrWrites, node };
}
