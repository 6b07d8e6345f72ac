/**
 * A unified diff (as `diff -u` prints it) from a file's text to the text that would replace
 * it, made safe to print. jsdiff computes it (Myers' algorithm). The work is bounded for
 * hostile sizes: texts of more than DIFF_MAX_LINES lines, or further apart than
 * DIFF_MAX_EDITS changed lines, are not diffed at all (the caller says so instead), and a
 * line with control characters, or a very long one, is shown escaped and cut short.
 */
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { hasUnsafeCharacters, oneLine } from "./safeText.js";

/** More lines than any generated file has (a few per claim); a diff of more is not shown. */
export const DIFF_MAX_LINES = 20_000;
/** Changed lines beyond which the texts are too far apart to show as a diff. */
export const DIFF_MAX_EDITS = 2_000;
/** How much of one line a diff shows. */
const LINE_MAX_BYTES = 1_000;

const lineCount = (text: string): number => {
  let count = 1;
  for (let i = text.indexOf("\n"); i >= 0 && count <= DIFF_MAX_LINES; i = text.indexOf("\n", i + 1)) count++;
  return count;
};

/** A diff line as it is, unless a character in it (a tab aside) could drive a terminal, or it is very long. */
function printable(line: string): string {
  const unsafe = line.length > LINE_MAX_BYTES || line.split("\t").some(hasUnsafeCharacters);
  return unsafe ? oneLine(line, LINE_MAX_BYTES) : line;
}

/**
 * The lines of a unified diff from `oldText` (named `oldName`) to `newText`: file headers,
 * then hunks with three lines of context. Empty when the texts are equal; null when they are
 * too large or too far apart to diff within the bounds above.
 */
export function unifiedDiff(oldName: string, oldText: string, newName: string, newText: string): string[] | null {
  if (oldText === newText) return [];
  if (lineCount(oldText) > DIFF_MAX_LINES || lineCount(newText) > DIFF_MAX_LINES) return null;
  const patch = createTwoFilesPatch(oldName, newName, oldText, newText, undefined, undefined, {
    context: 3,
    maxEditLength: DIFF_MAX_EDITS,
    headerOptions: FILE_HEADERS_ONLY,
  });
  if (patch === undefined) return null;
  return patch.replace(/\n$/, "").split("\n").map(printable);
}
