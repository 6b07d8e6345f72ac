/**
 * The documentation against the program: every command and option the README, the docs and
 * the manuals name exists in the command table; every key the claim format's manual names
 * exists in the parser, and every key the parser takes is documented; every repository file
 * they cite exists, and the layout table in docs/hacking.md matches the tree folder for
 * folder; and the README's examples, run against a simulated host, print what the README
 * shows.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/runCli.js";
import { OPTION_KEYS, SELECTOR_KEYS } from "../../src/config/claimConfig.js";
import { makeSimulatedHost, type SimulatedHost } from "../../support/simulatedHost.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle } from "../support/runBundle.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

const REPO = path.resolve(__dirname, "../..");
const read = (file: string): string => fs.readFileSync(path.join(REPO, file), "utf8");

/** roff as plain text: escapes and font changes gone, `\-` a hyphen. */
const roffText = (roff: string): string =>
  roff
    .split("\n")
    .filter((line) => !line.startsWith('.\\"'))
    .map((line) => line.replace(/^\.(?:B|I|BI|BR|IR|RB|IB|TP|PP|IP|SH|SS|RS|RE|nf|fi|TH|nh|ad l)\b ?/, ""))
    .join("\n")
    .replace(/\\f[BIRP]/g, "")
    .replace(/\\-/g, "-")
    .replace(/\\\(bu/g, "*")
    .replace(/\\e/g, "\\");

const DOCS = {
  "README.md": () => read("README.md"),
  "docs/design.md": () => read("docs/design.md"),
  "docs/hacking.md": () => read("docs/hacking.md"),
  "docs/performance.md": () => read("docs/performance.md"),
  "NEWS.md": () => read("NEWS.md"),
  "man/vfio-autobind.8.roff": () => roffText(read("man/vfio-autobind.8.roff")),
  "man/vfio-autobind.conf.5": () => roffText(read("man/vfio-autobind.conf.5")),
};
const MARKDOWN = Object.keys(DOCS).filter((name) => name.endsWith(".md"));

const commandName = (command: string): string => command.split(" ")[0] as string;
const COMMAND_NAMES = [...COMMANDS.map((c) => commandName(c.command)), "completion"];

/** Each command's options, and the global ones, as its own --help lists them. */
let optionsOf: Map<string, Set<string>>;
let globalOptions: Set<string>;
const optionsIn = (help: string): Set<string> =>
  new Set([...help.matchAll(/^ +(?:-\w, )?(--[a-z][\w-]*)/gm)].map((m) => m[1] as string));

beforeAll(async () => {
  globalOptions = optionsIn((await runBundle(["--help"])).stdout);
  optionsOf = new Map();
  for (const name of COMMAND_NAMES.filter((n) => n !== "completion")) {
    // --dry-run: runBundle refuses bind and release without a fake tree unless they write nothing.
    const help = await runBundle([name, "--help", "--dry-run"]);
    expect(help.exitCode).toBe(0);
    optionsOf.set(name, optionsIn(help.stdout));
  }
  optionsOf.set("completion", new Set());
}, 60_000);

/**
 * The code in a document, where commands are spelled out: in Markdown the `spans` and the
 * indented blocks (a root prompt's "# " dropped), in roff the bold runs and the .nf blocks.
 * Prose such as "vfio-autobind hands devices to VFIO" is not a command.
 */
function codeOf(name: string): string[] {
  const raw = read(name);
  if (name.endsWith(".md"))
    return [
      ...[...raw.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string),
      ...raw
        .split("\n")
        .filter((line) => /^ {4}\S/.test(line))
        .map((line) => line.trim().replace(/^# /, "")),
    ];
  const blocks = [...raw.matchAll(/^\.nf\n([\s\S]*?)^\.fi$/gm)].flatMap((m) => (m[1] as string).split("\n"));
  const bold = [...raw.matchAll(/\\fB((?:[^\\]|\\-)*)\\f[RI]/g)].map((m) => m[1] as string);
  return [...blocks, ...bold].map(roffText);
}

/** Every use of the command in a document's code: the command word and the options after it. */
function commandUses(name: string): { code: string; command: string; options: string[] }[] {
  const uses = [];
  for (const code of codeOf(name)) {
    for (const match of code.matchAll(/(?:^|\s)vfio-autobind ([a-z][\w-]*)(.*)/g)) {
      const options = [...(match[2] as string).matchAll(/(?:^|\s)(--[a-z][\w-]*)/g)].map((m) => m[1] as string);
      uses.push({ code, command: match[1] as string, options });
    }
  }
  return uses;
}

describe("commands and options the docs name", () => {
  it.each(Object.keys(DOCS))("every 'vfio-autobind COMMAND --option' in %s exists in the command table", (name) => {
    for (const use of commandUses(name)) {
      expect(COMMAND_NAMES, use.code).toContain(use.command);
      const known = new Set([...(optionsOf.get(use.command) ?? []), ...globalOptions]);
      for (const option of use.options) expect([...known], `${use.code}: ${option}`).toContain(option);
    }
  });

  it.each(Object.keys(DOCS))("every command named in backquotes in %s with its options exists", (name) => {
    const text = DOCS[name as keyof typeof DOCS]();
    // `apply --dry-run`, `unclaim --now`, `check --applied`: a command word first.
    for (const match of text.matchAll(/`([a-z][\w-]*)((?: --?[\w-]+(?: [A-Z.]+| [a-z0-9:.-]+)?)+)`/g)) {
      const command = match[1] as string;
      if (!COMMAND_NAMES.includes(command)) continue;
      const known = new Set([...(optionsOf.get(command) ?? []), ...globalOptions]);
      for (const option of (match[2] as string).matchAll(/--[\w-]+/g))
        expect([...known], match[0]).toContain(option[0]);
    }
  });

  it("the README and the manuals name every command", () => {
    const code = [...codeOf("README.md"), ...codeOf("man/vfio-autobind.8.roff")];
    const named = new Set(
      ["README.md", "man/vfio-autobind.8.roff"].flatMap((n) => commandUses(n).map((u) => u.command)),
    );
    for (const text of code) named.add(text.split(" ")[0] as string);
    // completion and hold-script are for the packages and scripts; the manual's COMMANDS has them.
    for (const command of COMMAND_NAMES.filter((c) => !["completion", "hold-script", "claims"].includes(c)))
      expect([...named], command).toContain(command);
  });
});

describe("the claim format's manual", () => {
  const conf = (): string => DOCS["man/vfio-autobind.conf.5"]();
  const PARSER_KEYS: readonly string[] = [...SELECTOR_KEYS, ...OPTION_KEYS];

  it("names only keys the parser takes, in the manual and in the README", () => {
    for (const text of [conf(), DOCS["README.md"](), DOCS["docs/design.md"]()]) {
      const keys = new Set(
        [...text.matchAll(/(?:^|[\s`(,])([A-Z][a-z]+(?:[A-Z][a-z]+)*)=/gm)].map((m) => m[1] as string),
      );
      keys.delete("Key"); // the manual's Key=value, describing the syntax
      for (const key of keys) expect(PARSER_KEYS, key).toContain(key);
    }
  });

  it("documents every key the parser takes, with its own entry", () => {
    const entries = [...read("man/vfio-autobind.conf.5").matchAll(/^\.B[IR]? (\w+)=/gm)].map((m) => m[1]);
    expect(entries.sort()).toEqual([...PARSER_KEYS].sort());
  });

  it("names only the sections the parser takes", () => {
    const sections = new Set([...conf().matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]));
    expect([...sections].sort()).toEqual(["Claim", "Exclude"]);
  });
});

describe("files the docs cite", () => {
  const TREE = /`((?:\.ci|bench|docs|man|packaging|rules\.d|scripts|src|support|test)\/[\w./-]*)`/g;

  // Files the build or a run writes, which git ignores: cited, but not in a fresh tree.
  const ignored = read(".gitignore")
    .split("\n")
    .filter((line) => line.startsWith("/"))
    .map((line) => line.slice(1));

  it.each(MARKDOWN)("every repository path in %s exists", (name) => {
    const text = DOCS[name as keyof typeof DOCS]();
    for (const match of text.matchAll(TREE)) {
      const cited = (match[1] as string).replace(/\/$/, "");
      if (cited.includes("*") || cited.includes("<") || ignored.includes(cited)) continue;
      expect(fs.existsSync(path.join(REPO, cited)), `${name} cites ${cited}`).toBe(true);
    }
  });

  it("the README's 'Read more' names files that exist", () => {
    const readMore = DOCS["README.md"]().split("## Read more")[1] ?? "";
    const files = [...readMore.matchAll(/`([\w./-]+\.md)`/g)].map((m) => m[1] as string);
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) expect(fs.existsSync(path.join(REPO, file)), file).toBe(true);
  });

  it("the layout table in docs/hacking.md lists every folder of the tree, and only those", () => {
    const table = DOCS["docs/hacking.md"]().split("## Layout")[1] ?? "";
    const listed = [...table.matchAll(/^\| `([\w./-]+)\/` \|/gm)].map((m) => m[1] as string);
    const folders = (dir: string): string[] =>
      fs
        .readdirSync(path.join(REPO, dir), { withFileTypes: true })
        .filter((e) => e.isDirectory() && e.name !== "node_modules" && e.name !== ".git" && e.name !== "dist")
        .map((e) => (dir === "." ? e.name : `${dir}/${e.name}`));
    const tree = [
      ...folders("."),
      ...folders("src"),
      ...folders("test"),
      ...folders("packaging"),
      ...folders("packaging/files"),
    ];
    expect(listed.filter((f) => f !== "dist").sort()).toEqual(tree.sort());
    expect(listed).toContain("dist");
  });
});

describe("the README", () => {
  it("is short enough to read at a root shell: at most about 250 lines", () => {
    expect(read("README.md").split("\n").length).toBeLessThanOrEqual(250);
  });

  it("keeps the sections others add to, under plain headings", () => {
    const headings = [...read("README.md").matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(expect.arrayContaining(["Install", "Supported platforms", "Read more"]));
  });
});

/**
 * The README's examples: every indented line `# vfio-autobind ...` is run, in order, on one
 * simulated host (a GPU with its HDMI audio, a NIC with two VFs, two NVMe drives, a
 * virtio NIC), and the lines after it up to the next command or the end of the block are
 * what it must print. Paths of the test's tree read as the host's; times as one time.
 */
describe("the README's examples", () => {
  let host: SimulatedHost;
  let ws: CliWorkspace;
  beforeAll(() => {
    host = makeSimulatedHost();
    host.tree.addDevice({
      address: "0000:65:00.0",
      vendor: "10de",
      device: "2204",
      classCode: "030000",
      iommuGroup: 30,
    });
    host.tree.addDevice({
      address: "0000:65:00.1",
      vendor: "10de",
      device: "1aef",
      classCode: "040300",
      iommuGroup: 30,
    });
    host.tree.addDevice({
      address: "0000:5e:00.0",
      vendor: "1b36",
      device: "0010",
      classCode: "010802",
      driver: "nvme",
      iommuGroup: 40,
    });
    ws = makeCliWorkspace("readme");
    ws.installUdevadm();
  });
  afterAll(() => {
    host.cleanup();
    ws.cleanup();
  });

  /** The README's example commands and what each prints, from its indented blocks. */
  function examples(): { command: string; output: string[] }[] {
    const runs: { command: string; output: string[] }[] = [];
    let current: { command: string; output: string[] } | null = null;
    for (const line of read("README.md").split("\n")) {
      const indented = /^ {4}(.*)$/.exec(line);
      if (indented === null) {
        current = null;
        continue;
      }
      const text = indented[1] as string;
      if (text.startsWith("# vfio-autobind ")) {
        current = { command: text.slice("# vfio-autobind ".length), output: [] };
        runs.push(current);
      } else if (current !== null) current.output.push(text);
    }
    return runs;
  }

  const asOnHost = (text: string): string =>
    text
      .replaceAll(ws.dir, "")
      .replaceAll(host.stateDir, "/run/vfio-autobind")
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "2026-12-05T12:00:00.000Z");

  it("has examples for GPUs, NIC VFs and NVMe, and every one prints what the README shows", async () => {
    const runs = examples();
    expect(runs.map((r) => r.command.split(" ")[0])).toEqual(
      expect.arrayContaining(["list", "claim", "apply", "check", "status"]),
    );
    const all = runs.map((r) => r.command).join("\n");
    for (const selector of ["--ids", "--vfs-of", "--class", "--exclude", "--driver"]) expect(all).toContain(selector);
    for (const run of runs) {
      const result = await runCliInProcess([...run.command.split(" "), ...host.rootArgs(ws.roots)], {
        kernelIo: () => host.kernel,
      });
      expect({ command: run.command, exitCode: result.exitCode, stderr: result.stderr }).toEqual({
        command: run.command,
        exitCode: 0,
        stderr: "",
      });
      expect(asOnHost(result.stdout).trimEnd().split("\n"), run.command).toEqual(run.output);
    }
  });
});
