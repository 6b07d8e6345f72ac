/** The unified diff apply --dry-run prints: its format, and its bounds on hostile input. */
import { applyPatch } from "diff";
import { describe, expect, it } from "vitest";
import { DIFF_MAX_EDITS, DIFF_MAX_LINES, unifiedDiff } from "../../src/text/unifiedDiff.js";

describe("unifiedDiff", () => {
  it("is empty for equal texts", () => {
    expect(unifiedDiff("/a", "x\ny\n", "/a", "x\ny\n")).toEqual([]);
  });

  it("prints file headers and hunks with three lines of context, as diff -u does", () => {
    const old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
    const now = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
    expect(unifiedDiff("/etc/f", old, "/etc/f", now)).toEqual([
      "--- /etc/f",
      "+++ /etc/f",
      "@@ -2,7 +2,7 @@",
      " 2",
      " 3",
      " 4",
      "-5",
      "+five",
      " 6",
      " 7",
      " 8",
    ]);
  });

  it("shows a line with a terminal escape escaped, and keeps tabs as they are", () => {
    const lines = unifiedDiff("/f", "\tok\n\u001b[2Jboom\n", "/f", "\tok\n") as string[];
    expect(lines).toContain("-\\x1b[2Jboom");
    expect(lines).toContain(" \tok");
  });

  it("cuts a very long line short", () => {
    const lines = unifiedDiff("/f", "", "/f", `${"x".repeat(5_000_000)}\n`) as string[];
    expect(lines[3]?.length).toBeLessThanOrEqual(1_000);
    expect(lines[3]).toMatch(/^\+x+\.\.\.\[truncated\]$/);
  });

  it("gives up, quickly, on texts too long or too far apart to show", () => {
    const started = Date.now();
    const many = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => `${prefix}${i}`).join("\n");
    expect(unifiedDiff("/f", many("a", DIFF_MAX_LINES + 1), "/f", "")).toBeNull();
    expect(unifiedDiff("/f", "\n".repeat(8 * 1024 * 1024), "/f", "x")).toBeNull();
    expect(unifiedDiff("/f", many("a", DIFF_MAX_EDITS), "/f", many("b", DIFF_MAX_EDITS))).toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("reads back as a patch from the old text to the new one", () => {
    const old = Array.from({ length: 200 }, (_, i) => `line ${i}`).join("\n");
    const now = old.replace("line 17", "changed").replace("line 150\n", "") + "\nadded";
    const lines = unifiedDiff("/f", old, "/f", now) as string[];
    expect(applyPatch(old, `${lines.join("\n")}\n`)).toBe(now);
  });
});
