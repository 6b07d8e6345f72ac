import { parseArgs } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseHelperArgs } from "../../src/helper/helperArgs.js";

const NAMES = ["sysfs-root", "state-dir", "journal-socket"] as const;

/** What node:util's parseArgs makes of the same command line, as the helper once called it. */
function reference(argv: readonly string[]): Record<string, string> | "error" {
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(NAMES.map((name) => [name, { type: "string" as const }])),
    });
    return { ...values } as Record<string, string>;
  } catch {
    return "error";
  }
}

function ours(argv: readonly string[]): Record<string, string> | "error" {
  try {
    return { ...parseHelperArgs(argv, NAMES) };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return "error";
  }
}

describe("parseHelperArgs", () => {
  it("reads --name value and --name=value, the last one winning", () => {
    expect(parseHelperArgs(["--sysfs-root", "/tmp/a", "--state-dir=/tmp/s", "--sysfs-root=/tmp/b"], NAMES)).toEqual({
      "sysfs-root": "/tmp/b",
      "state-dir": "/tmp/s",
    });
    expect(parseHelperArgs(["--state-dir", "-", "--journal-socket="], NAMES)).toEqual({
      "state-dir": "-",
      "journal-socket": "",
    });
  });

  it("refuses what parseArgs refuses, naming it safely", () => {
    expect(() => parseHelperArgs(["--sysfs-root"], NAMES)).toThrow("option --sysfs-root needs a value");
    expect(() => parseHelperArgs(["--sysfs-root", "--state-dir", "x"], NAMES)).toThrow(/reads as an option/);
    expect(() => parseHelperArgs(["--bogus\u001b[2J", "x"], NAMES)).toThrow('unknown option "--bogus\\u001b[2J"');
    expect(() => parseHelperArgs(["-s", "x"], NAMES)).toThrow('unknown option "-s"');
    expect(() => parseHelperArgs(["extra"], NAMES)).toThrow('unexpected argument "extra"');
    expect(() => parseHelperArgs(["--", "extra"], NAMES)).toThrow('unexpected argument "extra"');
    expect(parseHelperArgs(["--"], NAMES)).toEqual({});
  });

  it("agrees with node:util's parseArgs on any command line made of options, values and stray words", () => {
    const word = fc.constantFrom("", "-", "--", "-x", "x", "a=b", "/tmp/x", "--x", "---sysfs-root", "-sysfs-root");
    const option = fc.constantFrom(...NAMES, "bogus", "", "Sysfs-root");
    const token = fc.oneof(
      word,
      option.map((name) => `--${name}`),
      fc.tuple(option, word).map(([name, value]) => `--${name}=${value}`),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 7 }), (argv) => {
        expect(ours(argv)).toEqual(reference(argv));
      }),
      { numRuns: 5000 },
    );
  });
});
