// Reads yargs' help text back into its parts. The text comes from the bundle run with
// unwrapped-help.cjs, so every row is one line. A line indented deeper than any row starts
// is the continuation of a wrapped row: it is joined to the row above, and the result says
// the text was wrapped, because wrapping can split an example's command across columns.

/**
 * @typedef {{ term: string, text: string, meta: string[] }} Row
 *   e.g. term "--state-dir", text "where bind records and locks are kept",
 *   meta ["string", 'default: "/run/vfio-autobind"']
 * @typedef {{ usage: string, description: string[], sections: Map<string, Row[]>, epilogue: string[], wrapped: boolean }} Help
 */

const SECTION = /^([A-Z][A-Za-z ]*):$/;
const CONTINUATION_INDENT = 12;

/** @returns {Help} */
export function parseHelp(text) {
  const blocks = text
    .replace(/\r/g, "")
    .split(/\n\s*\n/)
    .map((block) => block.split("\n").filter((line) => line.trim() !== ""))
    .filter((lines) => lines.length > 0);
  const first = blocks.shift();
  if (first === undefined) throw new Error("empty help text");
  const usage = first[0].replace(/^Usage:\s*/, "");
  /** @type {Help} */
  const help = { usage, description: [], sections: new Map(), epilogue: [], wrapped: false };
  if (first.length > 1) help.description.push(first.slice(1).join(" "));

  for (const lines of blocks) {
    const heading = SECTION.exec(lines[0]);
    if (heading !== null) {
      const { rows, wrapped } = parseRows(lines.slice(1));
      help.sections.set(heading[1], rows);
      help.wrapped ||= wrapped;
    } else if (help.sections.size === 0) {
      help.description.push(lines.join(" "));
    } else {
      help.epilogue.push(...lines);
    }
  }
  return help;
}

function parseRows(lines) {
  /** @type {Row[]} */
  const rows = [];
  let wrapped = false;
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    const previous = rows[rows.length - 1];
    if (indent >= CONTINUATION_INDENT && previous !== undefined) {
      const more = splitMeta(line.trim());
      previous.text = [previous.text, more.text].filter(Boolean).join(" ");
      previous.meta.push(...more.meta);
      wrapped = true;
      continue;
    }
    // The term and its description are separated by two or more spaces.
    const match = /^\s*(\S(?:.*?\S)?)(?:\s{2,}(.*))?$/.exec(line);
    if (match === null) continue;
    rows.push({ term: match[1], ...splitMeta(match[2] ?? "") });
  }
  return { rows, wrapped };
}

/** "where records are kept  [string] [default: x]" → text and ["string", "default: x"].
 * Brackets nest ([default: []]), so each group is found by counting back from its end. */
function splitMeta(rest) {
  const meta = [];
  let text = rest.trim();
  while (text.endsWith("]")) {
    let depth = 0;
    let start = -1;
    for (let i = text.length - 1; i >= 0; i--) {
      if (text[i] === "]") depth++;
      else if (text[i] === "[" && --depth === 0) {
        start = i;
        break;
      }
    }
    // A group must stand apart from the text ("[array]", not "device[:sub]").
    if (start < 0 || (start > 0 && text[start - 1] !== " ")) break;
    meta.unshift(text.slice(start + 1, -1));
    text = text.slice(0, start).trimEnd();
  }
  return { text, meta };
}
