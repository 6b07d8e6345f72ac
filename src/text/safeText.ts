/**
 * Text from files, sysfs, /proc or arguments made safe for what a person or a parser reads:
 * the one home for which characters are unsafe and how they are escaped.
 *
 * - `oneLine`: for a one-line record (a journal line, a comment in a generated file): every
 *   unsafe character escaped, so nothing can end the line or drive a terminal, with a byte
 *   bound. Linear in the bound, whatever the input's length.
 * - `quoteForDisplay`: for echoing a value an admin may not have meant to show (a config
 *   value, a skipped index line, an argument): quoted, escaped and cut short, so a 20 MB
 *   value or a symlinked secret is never copied whole into a message.
 *
 * Unsafe: C0 (NUL, \n, \r, ESC, ...), DEL, C1 (U+0080-U+009F, NEL included), U+2028 and
 * U+2029 (line and paragraph separators), the invisible and bidi controls that reorder what
 * a terminal shows (U+00AD, U+061C, U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF),
 * lone surrogates, and in oneLine the backslash itself, so an escape always means the
 * character it names.
 */

const UNSAFE_CLASS =
  "\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2060-\\u2069\\ufeff";
const ESCAPED = new RegExp(`[\\\\${UNSAFE_CLASS}\\ud800-\\udfff]`);
const UNSAFE = new RegExp(`[${UNSAFE_CLASS}]`);
const UNSAFE_GLOBAL = new RegExp(`[${UNSAFE_CLASS}]`, "g");
// eslint-disable-next-line no-control-regex -- a newline is where a file's lines end; the rest is unsafe
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

/** True when `text` holds a control, formatting or bidi character that must not reach a terminal raw. */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE.test(text);
}

/** Where the first control character other than a newline is in `text`, or -1. */
export const controlCharacterAt = (text: string): number => text.search(CONTROL_BUT_NEWLINE);

function escapeCodePoint(c: string): string {
  if (c === "\\") return "\\\\";
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

export const TRUNCATION_MARKER = "...[truncated]";

/**
 * `text` with control characters escaped, at most `maxBytes` bytes of UTF-8; a longer
 * result is cut (never inside an escape or a character) and ends in TRUNCATION_MARKER.
 */
export function oneLine(text: string, maxBytes: number): string {
  const budget = maxBytes - TRUNCATION_MARKER.length;
  let out = "";
  let bytes = 0;
  let cutAt = -1; // out.length where the marker would go
  for (const c of text) {
    // for...of walks code points; a lone surrogate comes out alone and is escaped
    const piece = c.length === 1 && ESCAPED.test(c) ? escapeCodePoint(c) : c;
    const size = piece === c ? utf8Length(c.codePointAt(0) as number) : piece.length;
    if (cutAt < 0 && bytes + size > budget) cutAt = out.length;
    if (bytes + size > maxBytes) return `${out.slice(0, cutAt)}${TRUNCATION_MARKER}`;
    out += piece;
    bytes += size;
  }
  return out;
}

/** The default bound for an echoed value. */
export const DISPLAY_LENGTH = 60;

/** `"text"`, escaped as JSON (and then some); over `max` characters: `"start..." (N characters)`. */
export function quoteForDisplay(text: string, max: number = DISPLAY_LENGTH): string {
  const cut = text.length > max;
  const shown = JSON.stringify(cut ? text.slice(0, max) : text).replace(
    UNSAFE_GLOBAL,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return cut ? `${shown.slice(0, -1)}..." (${text.length} characters)` : shown;
}
