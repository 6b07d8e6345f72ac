/**
 * udev rule syntax, read the way udevd reads it (systemd's udev-rules.c), and written so
 * that it reads back the same. Pure.
 *
 * Reading, as udevd does: physical lines end at `\n`, `\r\n`, `\r` or NUL; leading
 * whitespace is skipped; a line whose first other character is `#` is a comment (before
 * continuation is looked at, so a comment never continues); a line ending in `\` continues
 * on the next one. A rule is a list of `KEY{attr}OP"value"` with whitespace and commas
 * between (neither is required); inside a plain value `\"` is a quote and nothing else is
 * special, an `e"..."` value takes C escapes. A line of 16 KiB or more is ignored by udevd.
 *
 * Writing: only values that match a strict pattern are ever quoted (no quote, backslash,
 * whitespace, `$` or `%` substitution, control character), and comment text is escaped, so
 * no value or comment can end a value, a token or a line. The exceptions are exact: in an
 * assigned value `$kernel` and `$env{NAME}`, which udev substitutes with what we mean (and
 * in a TEST path, which udev substitutes too); in a RUN{builtin} or IMPORT{builtin} command
 * single spaces between arguments; an empty ENV{}= or ATTR{}=.
 */
import { oneLine, quoteForDisplay } from "../text/safeText.js";

export type RuleOperator = "==" | "!=" | "=" | "+=" | "-=" | ":=";

export interface RuleToken {
  readonly key: string;
  readonly attr: string | null;
  readonly op: RuleOperator;
  readonly value: string;
  /** An `e"..."` value: C escapes, kept raw here. */
  readonly escaped?: true;
}

export interface RuleLine {
  /** The physical line it starts on (1-based). */
  readonly line: number;
  /** The rule's text after continuation lines were joined. */
  readonly text: string;
  readonly tokens: readonly RuleToken[];
}

export interface RuleSyntaxError {
  readonly line: number;
  readonly message: string;
}

export interface TokenizedRules {
  readonly rules: readonly RuleLine[];
  readonly errors: readonly RuleSyntaxError[];
}

/** udevd's UDEV_LINE_SIZE: a longer (joined) line is ignored with an error. */
export const UDEV_LINE_SIZE = 16 * 1024;

const WHITESPACE = " \t\n\r";
const OPERATORS: readonly RuleOperator[] = ["==", "!=", "+=", "-=", ":=", "="];

/** The tokens of one rule line, or why udevd would refuse it. Linear in the line's length. */
export function tokenizeRuleLine(text: string): RuleToken[] | { error: string } {
  const tokens: RuleToken[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && (WHITESPACE.includes(text[i] as string) || text[i] === ",")) i++;
    if (i >= n) return tokens;
    const keyStart = i;
    for (;;) {
      if (i >= n) return { error: `invalid key ${quoteForDisplay(text.slice(keyStart))}` };
      const c = text[i] as string;
      if (WHITESPACE.includes(c) || c === "=" || c === "{") break;
      if ("+-!:".includes(c) && text[i + 1] === "=") break;
      i++;
    }
    const key = text.slice(keyStart, i);
    let attr: string | null = null;
    if (text[i] === "{") {
      const close = text.indexOf("}", i + 1);
      if (close < 0) return { error: `${quoteForDisplay(key)}{ without a closing }` };
      attr = text.slice(i + 1, close);
      i = close + 1;
    }
    while (i < n && WHITESPACE.includes(text[i] as string)) i++;
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, i));
    if (op === undefined) return { error: `no operator after ${quoteForDisplay(key)}` };
    i += op.length;
    while (i < n && WHITESPACE.includes(text[i] as string)) i++;
    const escaped = text[i] === "e";
    if (escaped) i++;
    if (text[i] !== '"') return { error: `the value of ${quoteForDisplay(key)} is not in double quotes` };
    i++;
    let value = "";
    let closed = false;
    while (i < n) {
      const c = text[i] as string;
      if (c === '"') {
        closed = true;
        break;
      }
      if (c === "\\" && (escaped || text[i + 1] === '"')) {
        // plain values: `\"` is a quote; e"" values: a backslash escapes the next character
        value += escaped ? text.slice(i, i + 2) : '"';
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    if (!closed) return { error: `the value of ${quoteForDisplay(key)} has no closing quote` };
    i++;
    tokens.push({ key, attr, op, value, ...(escaped ? { escaped: true as const } : {}) });
  }
}

/** Every rule of a rules file with the line it starts on; syntax errors by line. */
export function tokenizeRules(text: string): TokenizedRules {
  const rules: RuleLine[] = [];
  const errors: RuleSyntaxError[] = [];
  const physical = text.split(/\r\n|[\n\r\0]/);
  if (physical[physical.length - 1] === "") physical.pop();
  let continuation: { line: number; text: string } | null = null;
  physical.forEach((raw, index) => {
    const lineNumber = index + 1;
    let line = raw.replace(/^[ \t]+/, "");
    if (line.startsWith("#")) return;
    let first = lineNumber;
    if (continuation !== null) {
      line = continuation.text + line;
      first = continuation.line;
      continuation = null;
    }
    if (line.endsWith("\\")) {
      continuation = { line: first, text: line.slice(0, -1) };
      return;
    }
    if (line.length >= UDEV_LINE_SIZE) {
      errors.push({ line: first, message: `longer than udev's ${UDEV_LINE_SIZE} bytes; udev ignores it` });
      return;
    }
    if (line.trim() === "") return;
    const tokens = tokenizeRuleLine(line);
    if ("error" in tokens) errors.push({ line: first, message: tokens.error });
    else rules.push({ line: first, text: line, tokens });
  });
  if (continuation !== null) {
    const last: { line: number } = continuation;
    errors.push({ line: last.line, message: "ends in a \\ continuation with no line after it" });
  }
  return { rules, errors };
}

// The characters a value may hold: globs (`*?[]!`), alternatives (`|`), addresses, hex
// ids, names, kernel releases, absolute paths and `(null)`; no quote, backslash, whitespace,
// `$`/`%` (udev substitutes those in assigned values), `{}`, comma or control character.
const SAFE_CHAR = "[A-Za-z0-9_.:/*?|![\\]()+-]";
const MATCH_VALUE = new RegExp(`^${SAFE_CHAR}+$`);
// In assigned values udev substitutes `$...` and `%...`; only two exact forms are written:
// `$kernel` (the device's kernel name; not followed by a name character, which udev would
// read on as part of the name or as `{attr}`) and `$env{NAME}` (a property we set).
const SUBSTITUTION = "\\$kernel(?![A-Za-z0-9_{])|\\$env\\{[A-Z_]+\\}";
const ASSIGNED_PIECE = `(?:${SAFE_CHAR}|${SUBSTITUTION})+`;
const ASSIGNED_VALUE = new RegExp(`^${ASSIGNED_PIECE}$`);
// A builtin's command line (`kmod load $env{X}`): udev splits it at spaces into arguments,
// so words are separated by single spaces, none leading or trailing.
const BUILTIN_COMMAND = new RegExp(`^${ASSIGNED_PIECE}(?: ${ASSIGNED_PIECE})*$`);
const SAFE_KEY = /^[A-Z]+$/;
// An attribute, property or sysctl name: `vendor`, `vfio_autobind.hold`, `kernel/osrelease`,
// with udev's `[subsystem/sysname]` prefix for another device's attribute. No component
// starts with a dot, so there is no `..` to climb out of the device.
const NAME_PART = "[A-Za-z0-9_][A-Za-z0-9_.-]*";
const SAFE_ATTR = new RegExp(`^(?:\\[[a-z0-9_-]+/[A-Za-z0-9_:-][A-Za-z0-9_.:-]*\\])?${NAME_PART}(?:/${NAME_PART})*$`);

/** Thrown when asked to write something udev would read differently. */
export class UnsafeRuleTextError extends Error {
  override readonly name = "UnsafeRuleTextError";
}

/** True when udev reads `token.value` exactly as written: no substitution but `$kernel` and `$env{NAME}`. */
function isSafeValue(token: RuleToken): boolean {
  // udev substitutes a TEST's path as it does an assigned value; no other match value.
  if (token.key === "TEST") return MATCH_VALUE.test(token.value) || ASSIGNED_VALUE.test(token.value);
  if (token.op === "==" || token.op === "!=") return MATCH_VALUE.test(token.value);
  if ((token.key === "RUN" || token.key === "IMPORT") && token.attr === "builtin")
    return BUILTIN_COMMAND.test(token.value);
  // An empty assignment clears a property or writes nothing to an attribute (a driver name
  // not known at apply time); nowhere else is an empty value meant.
  if (token.value === "") return token.op === "=" && (token.key === "ENV" || token.key === "ATTR");
  return ASSIGNED_VALUE.test(token.value);
}

/** One rule line; every part must be strictly safe, so it tokenizes back to `tokens`. */
export function renderRuleLine(tokens: readonly RuleToken[]): string {
  return tokens
    .map((t) => {
      if (!SAFE_KEY.test(t.key) || (t.attr !== null && !SAFE_ATTR.test(t.attr)) || t.escaped === true) {
        throw new UnsafeRuleTextError(`unsafe udev key ${quoteForDisplay(t.key)}`);
      }
      if (!isSafeValue(t)) throw new UnsafeRuleTextError(`unsafe udev value ${quoteForDisplay(t.value)}`);
      return `${t.key}${t.attr === null ? "" : `{${t.attr}}`}${t.op}"${t.value}"`;
    })
    .join(", ");
}

const COMMENT_MAX_BYTES = 512;

/** Text for a `#` comment: one line, no control character, bounded. */
export const commentText = (text: string): string => oneLine(text, COMMENT_MAX_BYTES);
