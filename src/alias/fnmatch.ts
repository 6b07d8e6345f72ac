/**
 * fnmatch(3) with flags 0, as kmod calls it to match a modalias against an alias pattern:
 * `*` and `?` match any characters (there is no path separator rule), `[...]` is a bracket
 * expression with `!` or `^` negation and ranges, and a backslash quotes the next
 * character. An unclosed `[` is an ordinary character, as in glibc.
 *
 * Written here rather than taken from a glob library: the glob packages on npm implement
 * shell and path globbing (slashes, dotfiles, braces, extglobs), not this exact subset, and
 * the subset is small enough to read in one screen.
 */

export type PatternToken =
  | { readonly kind: "literal"; readonly char: string }
  | { readonly kind: "any-one" }
  | { readonly kind: "any-run" }
  | { readonly kind: "bracket"; readonly negated: boolean; readonly items: readonly BracketItem[] };

export type BracketItem = { readonly from: string; readonly to: string };

export class PatternError extends Error {
  override readonly name = "PatternError";
}

export function tokenizePattern(pattern: string): PatternToken[] {
  const tokens: PatternToken[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === "*") {
      tokens.push({ kind: "any-run" });
      i += 1;
    } else if (c === "?") {
      tokens.push({ kind: "any-one" });
      i += 1;
    } else if (c === "\\") {
      if (i + 1 >= pattern.length) throw new PatternError("pattern ends with a lone backslash");
      tokens.push({ kind: "literal", char: pattern[i + 1] as string });
      i += 2;
    } else if (c === "[") {
      const bracket = readBracket(pattern, i);
      if (bracket === null) {
        tokens.push({ kind: "literal", char: "[" });
        i += 1;
      } else {
        tokens.push(bracket.token);
        i = bracket.end;
      }
    } else {
      tokens.push({ kind: "literal", char: c });
      i += 1;
    }
  }
  return tokens;
}

/** Reads `[...]` starting at `start`; null when it never closes (then `[` is literal). */
function readBracket(pattern: string, start: number): { token: PatternToken; end: number } | null {
  let i = start + 1;
  let negated = false;
  if (pattern[i] === "!" || pattern[i] === "^") {
    negated = true;
    i += 1;
  }
  const items: BracketItem[] = [];
  let first = true;
  while (i < pattern.length) {
    let c = pattern[i] as string;
    if (c === "]" && !first) {
      return { token: { kind: "bracket", negated, items }, end: i + 1 };
    }
    first = false;
    if (c === "\\" && i + 1 < pattern.length) {
      i += 1;
      c = pattern[i] as string;
    }
    i += 1;
    if (pattern[i] === "-" && i + 1 < pattern.length && pattern[i + 1] !== "]") {
      let to = pattern[i + 1] as string;
      i += 2;
      if (to === "\\" && i < pattern.length) {
        to = pattern[i] as string;
        i += 1;
      }
      if (to < c) throw new PatternError(`bracket range ${c}-${to} is reversed`);
      items.push({ from: c, to });
    } else {
      items.push({ from: c, to: c });
    }
  }
  return null;
}

/**
 * Real aliases are under 100 characters; a longer pattern is refused so that matching one
 * costs at most MAX_PATTERN_LENGTH steps per character of the string it is matched against.
 */
export const MAX_PATTERN_LENGTH = 512;

/** A pattern compiled once, matched against any number of strings. */
export interface CompiledPattern {
  readonly pattern: string;
  /** True when the whole of `text` matches. */
  test(text: string): boolean;
}

function matchesOne(token: PatternToken, c: string): boolean {
  switch (token.kind) {
    case "literal":
      return token.char === c;
    case "any-one":
      return true;
    case "bracket":
      return token.items.some((it) => it.from <= c && c <= it.to) !== token.negated;
    case "any-run":
      return false;
  }
}

/**
 * Matches with the "remember the last star" two-pointer walk, and counts its steps: a
 * failure after a `*` resumes from that star only (earlier stars never need to be
 * revisited, since any later star can absorb what they would), so the walk takes at most
 * (tokens + 1) * (text length + 1) steps and never backtracks exponentially as a RegExp
 * of `.*` runs does.
 */
export function matchTokens(tokens: readonly PatternToken[], text: string): { matched: boolean; steps: number } {
  let steps = 0;
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = -1;
  while (t < text.length) {
    steps += 1;
    const token = tokens[p];
    if (token?.kind === "any-run") {
      starP = p;
      starT = t;
      p += 1;
    } else if (token !== undefined && matchesOne(token, text[t] as string)) {
      p += 1;
      t += 1;
    } else if (starP >= 0) {
      // Let the last star take one more character and try the rest again.
      p = starP + 1;
      starT += 1;
      t = starT;
    } else {
      return { matched: false, steps };
    }
  }
  while (tokens[p]?.kind === "any-run") {
    steps += 1;
    p += 1;
  }
  return { matched: p === tokens.length, steps };
}

/** Compiles a pattern; throws PatternError for a malformed one or one over MAX_PATTERN_LENGTH. */
export function compilePattern(pattern: string): CompiledPattern {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new PatternError(`pattern is ${pattern.length} characters long, more than the ${MAX_PATTERN_LENGTH} allowed`);
  }
  const tokens = tokenizePattern(pattern);
  return { pattern, test: (text) => matchTokens(tokens, text).matched };
}

export function fnmatch(pattern: string, text: string): boolean {
  return compilePattern(pattern).test(text);
}

/**
 * How specific a pattern is: the number of `*` (the kernel's own measure) and the number
 * of literal characters (those outside `*`, `?` and bracket expressions).
 */
export function patternSpecificity(pattern: string): { wildcards: number; literals: number } {
  let wildcards = 0;
  let literals = 0;
  for (const token of tokenizePattern(pattern)) {
    if (token.kind === "any-run") wildcards += 1;
    else if (token.kind === "literal") literals += 1;
  }
  return { wildcards, literals };
}
