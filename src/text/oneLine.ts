/**
 * Text from files, sysfs or arguments made safe for a one-line record (a journal line, a
 * comment in a generated file, an error message): every control character is escaped, so
 * nothing can end the line or drive a terminal, and the result has a byte bound. Pure;
 * linear in the bound, whatever the input's length.
 *
 * Escaped: C0 (NUL, \n, \r, ESC, ...), DEL, C1 (U+0080-U+009F, NEL included), U+2028 and
 * U+2029 (line and paragraph separators), lone surrogates, and the backslash itself, so
 * that an escape in the output always means the character it names.
 */

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const ESCAPED = /[\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex -- as above; a newline is where a file's lines end
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

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

/** A value from a file or an argument, in double quotes, for a one-line message. */
export const quoted = (text: string, maxBytes = 80): string => `"${oneLine(text, maxBytes).replace(/"/g, '\\"')}"`;
