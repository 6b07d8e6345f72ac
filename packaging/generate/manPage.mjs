// vfio-autobind(8), in roff. What the program can say itself comes from it, so that the
// manual and the program cannot disagree: every command the top-level help lists gets a
// section made from its `<command> --help` (a new command appears here without anyone
// editing this), the options and the exit status come from the help too, and FILES from the
// program's paths. What it cannot say (what it does, holds at boot, who holds a device, the
// environment, examples) is written by hand in man/vfio-autobind.8.roff and put in its place.
import { parseHelp } from "./parseHelp.mjs";

/** The sections in order; "written" ones come from man/vfio-autobind.8.roff, the rest are generated. */
export const SECTION_ORDER = [
  ["NAME", "generated"],
  ["SYNOPSIS", "generated"],
  ["DESCRIPTION", "written"],
  ["COMMANDS", "generated"],
  ["OPTIONS", "generated"],
  ["HOLDS AT BOOT", "written"],
  ["DRIVERS INSTALLED LATER", "written"],
  ["WHO HOLDS A DEVICE", "written"],
  ["FILES", "generated"],
  ["ENVIRONMENT", "written"],
  ["EXIT STATUS", "generated"],
  ["EXAMPLES", "written"],
  ["SEE ALSO", "generated"],
];

/**
 * @param {{ top: string, commands: Map<string, string> }} helpTexts  from helpText.collectHelp
 * @param {object} page
 * @param {string} page.name
 * @param {string} page.version
 * @param {Date} page.date
 * @param {{ path: string, describe: string }[]} page.files     listed under FILES
 * @param {string[]} page.seeAlso                               "udevadm(8)" and the like
 * @param {string} page.written   roff of the written sections, each starting with .SH
 * @returns {string} roff source
 */
export function manPage(helpTexts, { name, version, date, files, seeAlso, written }) {
  const writtenSections = splitSections(written);
  const top = parseHelp(helpTexts.top);
  const globalOptions = top.sections.get("Options") ?? [];
  const globalTerms = new Set(globalOptions.map((row) => row.term));
  const summary = (top.description[0] ?? "").replace(/\.$/, "");
  const exitStatus = top.epilogue.filter((line) => /^Exit status:/i.test(line));

  const out = [];
  out.push(
    `.\\" Generated from '${name} --help' and man/${name}.8.roff by packaging/generate/manPage.mjs; edit those, not this.`,
  );
  out.push(
    `.TH ${esc(name.toUpperCase())} 8 ${quote(date.toISOString().slice(0, 10))} ${quote(`${name} ${version}`)} "System Administration"`,
  );
  // Paths and option names are long words: no hyphenation, ragged right.
  out.push(".nh", ".ad l");
  out.push(".SH NAME", `${esc(name)} \\- ${esc(lowerFirst(summary))}`);

  out.push(".SH SYNOPSIS");
  const commandRows = top.sections.get("Commands") ?? [];
  for (const row of commandRows) out.push(".br", `${usageLine(row.term)} [\\fIoptions\\fR]`);

  out.push(...writtenSections.get("DESCRIPTION"));

  out.push(".SH COMMANDS");
  for (const row of commandRows) {
    const command = row.term.split(/\s+/)[1];
    const own = parseOwnHelp(helpTexts.commands.get(command), row.term);
    out.push(`.SS ${usageLine(own?.usage ?? row.term)}`);
    out.push(esc(sentence(own?.description[0] ?? row.text)));
    for (const paragraph of own?.description.slice(1) ?? []) out.push(".PP", esc(paragraph));
    if (own === undefined) continue;
    const positionals = own.sections.get("Positionals") ?? [];
    const options = (own.sections.get("Options") ?? []).filter((option) => !globalTerms.has(option.term));
    for (const entry of [...positionals, ...options]) out.push(...optionEntry(entry, positionals.includes(entry)));
    const examples = own.sections.get("Examples") ?? [];
    if (examples.length > 0) out.push(".PP", "Examples:");
    for (const example of examples) out.push(".TP", `.B ${esc(example.term)}`, esc(example.text));
  }

  out.push(".SH OPTIONS", "These work with every command.");
  for (const option of globalOptions) out.push(...optionEntry(option, false));

  out.push(...writtenSections.get("HOLDS AT BOOT"), ...writtenSections.get("WHO HOLDS A DEVICE"));

  out.push(".SH FILES");
  for (const file of files) out.push(".TP", `.I ${esc(file.path)}`, esc(sentence(file.describe)));

  out.push(...writtenSections.get("ENVIRONMENT"));

  out.push(".SH EXIT STATUS");
  for (const line of exitStatus) out.push(esc(sentence(line.replace(/^Exit status:\s*/i, ""))));

  out.push(...writtenSections.get("EXAMPLES"));

  out.push(".SH SEE ALSO", seeAlso.map(reference).join(",\n"));
  return `${out.join("\n")}\n`;
}

/**
 * The written sections by name, each as its lines from its .SH on; comments dropped. Every
 * written section of SECTION_ORDER must be there, and nothing else: a section added to the
 * file but not to the order would silently vanish from the page.
 */
export function splitSections(roff) {
  /** @type {Map<string, string[]>} */
  const sections = new Map();
  let current = null;
  for (const line of roff.split("\n")) {
    if (line.startsWith('.\\"') || (current === null && line.trim() === "")) continue;
    const heading = /^\.SH (.+)$/.exec(line);
    if (heading !== null) {
      current = heading[1].replace(/^"|"$/g, "");
      if (sections.has(current)) throw new Error(`written section ${current} appears twice`);
      sections.set(current, []);
    } else if (current === null) {
      throw new Error(`written sections must start with .SH, not ${JSON.stringify(line)}`);
    }
    sections.get(current).push(line);
  }
  for (const lines of sections.values()) while (lines.at(-1)?.trim() === "") lines.pop();
  const expected = SECTION_ORDER.filter(([, kind]) => kind === "written").map(([name]) => name);
  const unknown = [...sections.keys()].filter((name) => !expected.includes(name));
  const missing = expected.filter((name) => !sections.has(name));
  if (unknown.length > 0 || missing.length > 0)
    throw new Error(
      `the written sections must be exactly ${expected.join(", ")}` +
        (unknown.length > 0 ? `; unknown: ${unknown.join(", ")}` : "") +
        (missing.length > 0 ? `; missing: ${missing.join(", ")}` : ""),
    );
  return sections;
}

/** A command's own help, or undefined when `<command> --help` printed something else
 * (yargs' completion command prints its script whatever the options). */
function parseOwnHelp(text, term) {
  if (text === undefined) return undefined;
  const help = parseHelp(text);
  return help.usage.startsWith(term.split(/\s+/).slice(0, 2).join(" ")) ? help : undefined;
}

/** "vfio-autobind bind <device>" → bold words, italic placeholders. */
function usageLine(usage) {
  return usage
    .split(/\s+/)
    .map((word) => (/^[<[]/.test(word) ? `\\fI${esc(word)}\\fR` : `\\fB${esc(word)}\\fR`))
    .join(" ");
}

/** One positional or option as a tagged paragraph. */
function optionEntry(row, positional) {
  const notes = [];
  for (const meta of row.meta) {
    const dflt = /^default: (.*)$/.exec(meta);
    // "false" is what every flag defaults to and "[]" what every list does: not worth a line.
    if (dflt !== null && dflt[1] !== "false" && dflt[1] !== "[]") notes.push(`Default: ${unquote(dflt[1])}.`);
    if (meta === "required") notes.push("Required.");
  }
  const tag = positional ? `\\fI${esc(row.term)}\\fR` : `\\fB${esc(row.term)}\\fR${argumentOf(row.meta)}`;
  return [".TP", tag, esc([sentence(row.text), ...notes].join(" "))];
}

/** What an option takes, after its name: " value", " value ...", " ignore|check|bind". */
function argumentOf(meta) {
  const choices = meta.map((m) => /^choices: (.*)$/.exec(m)).find((m) => m !== null);
  if (choices)
    return ` ${unquote(choices[1])
      .split(/,\s*/)
      .map((c) => `\\fI${esc(c)}\\fR`)
      .join("|")}`;
  if (meta.includes("array")) return " \\fIvalue\\fR ...";
  if (meta.includes("string") || meta.includes("number")) return " \\fIvalue\\fR";
  return "";
}

function unquote(text) {
  return text.replace(/"([^"]*)"/g, "$1");
}

function sentence(text) {
  const trimmed = text.trim();
  if (trimmed === "") return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function lowerFirst(text) {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

/** Text for roff: backslashes escaped, hyphens as real minus signs (so options copy and paste),
 * and a leading dot or quote protected from being read as a request. */
function esc(text) {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/, "\\&$1");
}

/** "udevadm(8)" → the name in bold, the section after it. */
function reference(ref) {
  const match = /^(.*)\((\w+)\)$/.exec(ref);
  return match === null ? esc(ref) : `\\fB${esc(match[1])}\\fR(${match[2]})`;
}

function quote(text) {
  return `"${esc(text).replace(/"/g, "")}"`;
}
