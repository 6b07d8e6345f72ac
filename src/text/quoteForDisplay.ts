/**
 * Text from files an admin may not have meant to show (a value, a skipped index line) is
 * echoed only through here: quoted, with every control character escaped, and cut short.
 * A terminal or the journal then never receives an escape sequence, and a 20 MB value or a
 * symlinked secret is never copied whole into a message.
 */

/** Characters JSON.stringify leaves alone that still steer a terminal or reorder text. */
const UNSAFE_AFTER_JSON = /[\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** The default bound for an echoed value. */
export const DISPLAY_LENGTH = 60;

/** `"text"`, escaped as JSON (and then some); over `max` characters: `"start..." (N characters)`. */
export function quoteForDisplay(text: string, max: number = DISPLAY_LENGTH): string {
  const cut = text.length > max;
  const shown = JSON.stringify(cut ? text.slice(0, max) : text).replace(
    UNSAFE_AFTER_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return cut ? `${shown.slice(0, -1)}..." (${text.length} characters)` : shown;
}

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/;

/** True when `text` holds a control, formatting or bidi character that must not reach a terminal raw. */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE.test(text);
}
