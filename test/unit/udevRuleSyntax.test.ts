import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { oneLine, quoteForDisplay, TRUNCATION_MARKER, controlCharacterAt } from "../../src/text/safeText.js";
import {
  commentText,
  renderRuleLine,
  tokenizeRuleLine,
  tokenizeRules,
  UDEV_LINE_SIZE,
  UnsafeRuleTextError,
  type RuleToken,
} from "../../src/rules/udevRuleSyntax.js";

const tok = (key: string, op: RuleToken["op"], value: string, attr: string | null = null): RuleToken => ({
  key,
  attr,
  op,
  value,
});

describe("tokenizeRuleLine, as udevd reads a rule", () => {
  it("reads keys, attributes, every operator and quoted values", () => {
    expect(
      tokenizeRuleLine('ACTION=="add", ATTR{vendor}!="0x15b3", ENV{X}="a b", RUN+="/bin/x", OWNER:="root", TAG-="t"'),
    ).toEqual([
      tok("ACTION", "==", "add"),
      tok("ATTR", "!=", "0x15b3", "vendor"),
      tok("ENV", "=", "a b", "X"),
      tok("RUN", "+=", "/bin/x"),
      tok("OWNER", ":=", "root"),
      tok("TAG", "-=", "t"),
    ]);
  });

  it("needs no separator between tokens, and takes whitespace around the operator", () => {
    expect(tokenizeRuleLine('KERNEL=="a"RUN+="x",,  GOTO = "y"')).toEqual([
      tok("KERNEL", "==", "a"),
      tok("RUN", "+=", "x"),
      tok("GOTO", "=", "y"),
    ]);
  });

  it('reads \\" inside a plain value as a quote, and no other backslash escape', () => {
    expect(tokenizeRuleLine('ENV{A}="x\\", RUN+=\\"y", B="\\n"')).toEqual([
      tok("ENV", "=", 'x", RUN+="y', "A"),
      tok("B", "=", "\\n"),
    ]);
  });

  it('keeps e"" values raw, a backslash escaping the next character', () => {
    expect(tokenizeRuleLine('ENV{A}=e"a\\"b\\n", X="y"')).toEqual([
      { ...tok("ENV", "=", 'a\\"b\\n', "A"), escaped: true },
      tok("X", "=", "y"),
    ]);
  });

  it("refuses what udevd refuses: no operator, no quotes, no closing quote, no closing brace", () => {
    for (const line of ['KERNEL"a"', "KERNEL==a", 'KERNEL=="a', 'ATTR{x=="a"', "KERNEL"]) {
      expect(tokenizeRuleLine(line)).toHaveProperty("error");
    }
  });
});

describe("tokenizeRules, as udevd reads a file", () => {
  it("skips comments and blank lines, and numbers rules by their first line", () => {
    const read = tokenizeRules('# c\n\n  KERNEL=="a", GOTO="e"\n\t# indented comment\nLABEL="e"\n');
    expect(read.errors).toEqual([]);
    expect(read.rules.map((r) => [r.line, r.tokens.length])).toEqual([
      [3, 2],
      [5, 1],
    ]);
  });

  it("joins a line ending in a backslash with the next one; a comment never continues", () => {
    const read = tokenizeRules('KERNEL=="a", \\\n  RUN+="x"\n# comment \\\nLABEL="e"\n');
    expect(read.rules.map((r) => [r.line, r.tokens.map((t) => t.key)])).toEqual([
      [1, ["KERNEL", "RUN"]],
      [4, ["LABEL"]],
    ]);
  });

  it("ends lines at CR, CRLF and NUL as well as LF", () => {
    const read = tokenizeRules('# x\rRUN+="a"\r\nRUN+="b"\0RUN+="c"');
    expect(read.rules.map((r) => r.tokens[0]?.value)).toEqual(["a", "b", "c"]);
  });

  it("reports a line udevd would ignore for its length, or for its syntax", () => {
    const read = tokenizeRules(`KERNEL=="${"a".repeat(UDEV_LINE_SIZE)}"\nKERNEL=a\nLABEL="e"`);
    expect(read.errors.map((e) => e.line)).toEqual([1, 2]);
    expect(read.rules.map((r) => r.line)).toEqual([3]);
  });
});

describe("renderRuleLine", () => {
  it("writes strictly safe tokens so that they read back the same", () => {
    const tokens = [tok("KERNEL", "==", "0000:3b:00.*|0000:[0-9]?:00.1"), tok("ENV", "=", "/etc/a-b_c.conf:3", "X")];
    const line = renderRuleLine(tokens);
    expect(line).toBe('KERNEL=="0000:3b:00.*|0000:[0-9]?:00.1", ENV{X}="/etc/a-b_c.conf:3"');
    expect(tokenizeRuleLine(line)).toEqual(tokens);
  });

  it("refuses a value, key or attribute that is not strictly safe", () => {
    for (const bad of [
      tok("KERNEL", "==", 'a", RUN+="x'),
      tok("KERNEL", "==", "a\nb"),
      tok("KERNEL", "==", "a\\"),
      tok("ENV", "==", "$kernel", "X"),
      tok("ENV", "=", "%k", "X"),
      tok("ENV", "=", "a b", "X"),
      tok("ENV", "==", "", "X"),
      tok("RUN", "+=", ""),
      tok("RUN+", "=", "x"),
      tok("ENV", "=", "x", 'X}="y'),
    ]) {
      expect(() => renderRuleLine([bad])).toThrow(UnsafeRuleTextError);
    }
  });

  it("writes every form of the compiled-decision layout so that it reads back the same", () => {
    const forms: [RuleToken, string][] = [
      [tok("SYSCTL", "!=", "6.1.0-56-amd64", "kernel/osrelease"), 'SYSCTL{kernel/osrelease}!="6.1.0-56-amd64"'],
      [tok("IMPORT", "=", "vfio_autobind.hold", "cmdline"), 'IMPORT{cmdline}="vfio_autobind.hold"'],
      [tok("ENV", "==", "0", "vfio_autobind.hold"), 'ENV{vfio_autobind.hold}=="0"'],
      [
        tok("RUN", "+=", "kmod load $env{VFIO_AUTOBIND_MODULE}", "builtin"),
        'RUN{builtin}+="kmod load $env{VFIO_AUTOBIND_MODULE}"',
      ],
      [tok("ATTR", "=", "$kernel", "[subsystem/pci]drivers_probe"), 'ATTR{[subsystem/pci]drivers_probe}="$kernel"'],
      [
        tok("ATTR", "=", "$env{VFIO_AUTOBIND_DRIVER}", "driver_override"),
        'ATTR{driver_override}="$env{VFIO_AUTOBIND_DRIVER}"',
      ],
      [
        tok("ATTR", "!=", "(null)|vfio-autobind-hold", "driver_override"),
        'ATTR{driver_override}!="(null)|vfio-autobind-hold"',
      ],
      [tok("ATTR", "=", "vfio-autobind-hold", "driver_override"), 'ATTR{driver_override}="vfio-autobind-hold"'],
      [
        tok("ENV", "==", "pci:v00001AF4d0000104[1-2]sv*sd*bc0?sc*i*", "MODALIAS"),
        'ENV{MODALIAS}=="pci:v00001AF4d0000104[1-2]sv*sd*bc0?sc*i*"',
      ],
      [tok("ENV", "==", "pci:v*d*sv*sd*bc[!0]6sc*i*", "MODALIAS"), 'ENV{MODALIAS}=="pci:v*d*sv*sd*bc[!0]6sc*i*"'],
      [tok("ENV", "=", "", "VFIO_AUTOBIND_DRIVER"), 'ENV{VFIO_AUTOBIND_DRIVER}=""'],
      [tok("ATTR", "=", "", "driver_override"), 'ATTR{driver_override}=""'],
      [tok("ENV", "!=", "?*", "VFIO_AUTOBIND_CLAIM"), 'ENV{VFIO_AUTOBIND_CLAIM}!="?*"'],
      [tok("ATTR", "==", "0x06*", "class"), 'ATTR{class}=="0x06*"'],
      [tok("TEST", "==", "driver"), 'TEST=="driver"'],
    ];
    for (const [token, text] of forms) {
      expect(renderRuleLine([token])).toBe(text);
      expect(tokenizeRuleLine(text)).toEqual([token]);
    }
    const line = renderRuleLine(forms.slice(0, 3).map(([t]) => t));
    expect(tokenizeRules(line).rules.map((r) => r.tokens)).toEqual([forms.slice(0, 3).map(([t]) => t)]);
  });

  it("refuses every `$` but $kernel and $env{NAME} in assigned values, and any `$` in a match", () => {
    for (const value of [
      "$kernelx", // udev would read on: not the substitution we mean
      "$kernel{x}",
      "$kernel_1",
      "$devpath",
      "$attr{vendor}",
      "$env{lower}",
      "$env{}",
      "$env{A B}",
      "$env{A",
      "$$",
      "$",
      "a$",
      "%k",
      "%E{X}",
    ]) {
      expect(() => renderRuleLine([tok("ATTR", "=", value, "driver_override")])).toThrow(UnsafeRuleTextError);
      expect(() => renderRuleLine([tok("RUN", "+=", `kmod load ${value}`, "builtin")])).toThrow(UnsafeRuleTextError);
    }
    for (const value of ["$kernel", "$env{X}"]) {
      expect(() => renderRuleLine([tok("ENV", "==", value, "X")])).toThrow(UnsafeRuleTextError);
      expect(() => renderRuleLine([tok("SYSCTL", "!=", value, "kernel/osrelease")])).toThrow(UnsafeRuleTextError);
    }
    // substitutions inside a longer assigned value are fine when exact
    expect(renderRuleLine([tok("ENV", "=", "a-$kernel-$env{B_C}", "X")])).toBe('ENV{X}="a-$kernel-$env{B_C}"');
  });

  it("refuses a builtin command that is not single-space separated words, and whitespace elsewhere", () => {
    for (const value of [
      "kmod  load x",
      " kmod load x",
      "kmod load x ",
      "kmod\tload x",
      "kmod\nload",
      'kmod load "x"',
    ]) {
      expect(() => renderRuleLine([tok("RUN", "+=", value, "builtin")])).toThrow(UnsafeRuleTextError);
    }
    expect(() => renderRuleLine([tok("RUN", "+=", "kmod load x")])).toThrow(UnsafeRuleTextError);
    expect(() => renderRuleLine([tok("ATTR", "=", "a b", "driver_override")])).toThrow(UnsafeRuleTextError);
  });

  it("refuses attribute names that climb out of the device or could end the braces", () => {
    for (const attr of [
      "../driver_override",
      "a/../b",
      ".hidden",
      "/abs",
      "a//b",
      "a/",
      "[subsystem/pci",
      "[subsystem/pci]",
      "[Subsystem/pci]x",
      "[subsystem/..]x",
      "[subsystem/pci]../x",
      "x}",
      "$attr",
      "a b",
      "",
    ]) {
      expect(() => renderRuleLine([tok("ATTR", "=", "x", attr)])).toThrow(UnsafeRuleTextError);
    }
    for (const attr of ["[subsystem/pci]drivers_probe", "[pci/0000:3b:00.0]vendor", "kernel/osrelease", "a.b"]) {
      expect(renderRuleLine([tok("ATTR", "==", "x", attr)])).toBe(`ATTR{${attr}}=="x"`);
    }
  });

  it("still refuses a hostile value in each new form: quotes, backslashes, newlines, braces", () => {
    const hostile = ['x", RUN+="/bin/sh', "x\\", "x\n", "x}", "x{", "x,y", "x%", "x\u0000", "x\u00a0", "x#"];
    for (const value of hostile) {
      for (const token of [
        tok("ENV", "==", value, "MODALIAS"),
        tok("SYSCTL", "!=", value, "kernel/osrelease"),
        tok("IMPORT", "=", value, "cmdline"),
        tok("ATTR", "=", value, "driver_override"),
        tok("RUN", "+=", `kmod load ${value}`, "builtin"),
      ]) {
        expect(() => renderRuleLine([token]), JSON.stringify(token)).toThrow(UnsafeRuleTextError);
      }
    }
  });

  it("property: whatever the tokens, it refuses them or they read back exactly", () => {
    const text = fc.string({ unit: "binary", maxLength: 12 });
    const token = fc.record({
      key: fc.oneof(fc.constantFrom("KERNEL", "ENV", "RUN", "ATTR", "SYSCTL", "IMPORT"), text),
      attr: fc.option(
        fc.oneof(
          fc.constantFrom("vendor", "X", "builtin", "cmdline", "kernel/osrelease", "[subsystem/pci]drivers_probe"),
          text,
        ),
        { nil: null },
      ),
      op: fc.constantFrom<RuleToken["op"]>("==", "!=", "=", "+=", "-=", ":="),
      value: fc.oneof(
        fc.constantFrom("0000:3b:00.*", "a|b", "x", "", "$kernel", "kmod load $env{X}", "(null)|x", "$env{X}$kernel"),
        text,
      ),
    });
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 4 }), (tokens) => {
        let line: string;
        try {
          line = renderRuleLine(tokens);
        } catch (error) {
          expect(error).toBeInstanceOf(UnsafeRuleTextError);
          return;
        }
        expect(tokenizeRules(line).rules.map((r) => r.tokens)).toEqual([tokens]);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("oneLine and commentText", () => {
  it("escapes C0, DEL, C1, the line separators, lone surrogates and the backslash", () => {
    expect(oneLine("a\nb\rc\u001bd\0e\u007ff\u0085g\u2028h\u2029i\\j\ud800k", 100)).toBe(
      "a\\x0ab\\x0dc\\x1bd\\x00e\\x7ff\\x85g\\u2028h\\u2029i\\\\j\\ud800k",
    );
    expect(oneLine("plain ünïcode 😀", 100)).toBe("plain ünïcode 😀");
  });

  it("bounds the result in bytes of UTF-8, cutting before an escape or character, with a marker", () => {
    const cut = oneLine("😀".repeat(100), 64);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(64);
    expect(cut).toBe(`${"😀".repeat(12)}${TRUNCATION_MARKER}`);
    expect(oneLine(`${"a".repeat(60)}\n`, 64)).toBe(`${"a".repeat(60)}\\x0a`);
    expect(oneLine(`${"a".repeat(61)}\n`, 64)).toBe(`${"a".repeat(50)}${TRUNCATION_MARKER}`);
    expect(oneLine("a".repeat(64), 64)).toBe("a".repeat(64));
  });

  it("takes time in the bound, not in the input", () => {
    const huge = "\u001b".repeat(20_000_000);
    const start = process.hrtime.bigint();
    expect(oneLine(huge, 2048).endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(1000);
  });

  it("property: the result has no control character, fits its bound, and is the input when short and plain", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), fc.integer({ min: 20, max: 300 }), (text, max) => {
        const line = oneLine(text, max);
        expect(controlCharacterAt(line)).toBe(-1);
        expect(line).not.toContain("\n");
        expect(Buffer.byteLength(line)).toBeLessThanOrEqual(max);
        if (controlCharacterAt(text) === -1 && !/[\n\\\ud800-\udfff]/.test(text) && Buffer.byteLength(text) <= max)
          expect(line).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it("commentText keeps a comment to one bounded line; quoted escapes the quote too", () => {
    expect(commentText('a\nRUN+="x"')).toBe('a\\x0aRUN+="x"');
    expect(Buffer.byteLength(commentText("x".repeat(10_000)))).toBeLessThanOrEqual(512);
    expect(quoteForDisplay('a"b\nc')).toBe('"a\\"b\\nc"');
  });
});
