import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compilePattern, fnmatch, PatternError, patternSpecificity } from "../../src/alias/fnmatch.js";

describe("fnmatch", () => {
  it.each([
    ["vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", true],
    ["vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", true],
    ["vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", false],
    // the whole string must match, not a prefix
    ["vfio_pci:v00001AF4", "vfio_pci:v00001AF4d00001041", false],
    ["a?c", "abc", true],
    ["a?c", "ac", false],
    ["a[bx]c", "axc", true],
    ["a[!bx]c", "abc", false],
    ["a[^bx]c", "ayc", true],
    ["a[0-9]c", "a5c", true],
    ["a[]]c", "a]c", true],
    ["a[!]]c", "a]c", false],
    ["a\\*c", "a*c", true],
    ["a\\*c", "abc", false],
    ["a[bc", "a[bc", true], // an unclosed bracket is literal
    ["*", "", true],
    ["a/b*", "a/b/c", true], // no path rules: '/' is ordinary
    ["x.y", "xzy", false], // regex metacharacters are literal
    ["(a|b)", "(a|b)", true],
  ])("%j against %j is %s", (pattern, text, expected) => {
    expect(fnmatch(pattern, text)).toBe(expected);
  });

  it("rejects a reversed range and a lone trailing backslash", () => {
    expect(() => compilePattern("a[z-a]")).toThrow(PatternError);
    expect(() => compilePattern("abc\\")).toThrow(PatternError);
  });

  it("agrees with glibc fnmatch(3), flags 0, on random patterns", () => {
    const alphabet = fc.constantFrom("a", "b", "c", "*", "?", "[", "]", "!", "-", "^", "\\");
    const cases = fc.sample(
      fc.tuple(
        fc.string({ unit: alphabet, maxLength: 8 }),
        fc.string({ unit: fc.constantFrom("a", "b", "c", "]", "-", "*"), maxLength: 6 }),
      ),
      { numRuns: 600, seed: 42 },
    );
    const script = [
      "import ctypes, json, sys",
      "libc = ctypes.CDLL(None)",
      "out = [libc.fnmatch(p.encode(), s.encode(), 0) == 0 for p, s in json.load(sys.stdin)]",
      "print(json.dumps(out))",
    ].join("\n");
    const glibc = JSON.parse(
      execFileSync("python3", ["-c", script], { input: JSON.stringify(cases) }).toString(),
    ) as boolean[];
    let compared = 0;
    cases.forEach(([pattern, text], i) => {
      let ours: boolean;
      try {
        ours = fnmatch(pattern, text);
      } catch (error) {
        // Patterns we refuse (reversed ranges, trailing backslash) are skipped as malformed
        // in modules.alias; glibc's answer for them is not a behaviour we copy.
        expect(error).toBeInstanceOf(PatternError);
        return;
      }
      compared += 1;
      expect({ pattern, text, match: ours }).toEqual({ pattern, text, match: glibc[i] });
    });
    expect(compared).toBeGreaterThan(500);
  });
});

describe("patternSpecificity", () => {
  it.each([
    ["vfio_pci:v*d*sv*sd*bc*sc*i*", 7, 20],
    ["vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*", 5, 36],
    ["vfio_pci:v00001AF4d00001042sv000015B3sd*bc*sc*i*", 4, 44],
    ["vfio_pci:v0000?AF4d*", 1, 18],
    ["vfio_pci:v0000[01]AF4d*", 1, 18],
    ["a\\*b", 0, 3],
  ])("%j has %i wildcards and %i literals", (pattern, wildcards, literals) => {
    expect(patternSpecificity(pattern)).toEqual({ wildcards, literals });
  });
});
