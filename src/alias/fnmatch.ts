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

function escapeForRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** Compiles a pattern to an anchored RegExp that matches the whole string. */
export function compilePattern(pattern: string): RegExp {
  let source = "^";
  for (const token of tokenizePattern(pattern)) {
    switch (token.kind) {
      case "literal":
        source += escapeForRegExp(token.char);
        break;
      case "any-one":
        source += "[^]";
        break;
      case "any-run":
        source += "[^]*";
        break;
      case "bracket": {
        const body = token.items
          .map((it) =>
            it.from === it.to ? escapeForRegExp(it.from) : `${escapeForRegExp(it.from)}-${escapeForRegExp(it.to)}`,
          )
          .join("");
        // An empty negated class matches any one character; an empty class matches none.
        source += token.negated ? `[^${body}]` : body === "" ? "(?!)" : `[${body}]`;
        break;
      }
    }
  }
  return new RegExp(`${source}$`);
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
