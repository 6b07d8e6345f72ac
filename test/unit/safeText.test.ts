import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quoteForDisplay } from "../../src/text/safeText.js";

describe("quoteForDisplay", () => {
  it("quotes and escapes control characters, C1 controls and bidi overrides", () => {
    expect(quoteForDisplay("a\u001b[2Jb\u009b31m\u202e\n")).toBe('"a\\u001b[2Jb\\u009b31m\\u202e\\n"');
  });

  it("cuts a long value short and says how long it was", () => {
    expect(quoteForDisplay("x".repeat(20_000_000), 5)).toBe('"xxxxx..." (20000000 characters)');
    expect(quoteForDisplay("short", 5)).toBe('"short"');
  });

  it("never lets a control character through, and stays bounded", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const shown = quoteForDisplay(text, 60);
        // eslint-disable-next-line no-control-regex -- the point of the test
        expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
        expect(shown.length).toBeLessThanOrEqual(60 * 6 + 40);
      }),
      { numRuns: 2000, seed: 5 },
    );
  });
});
