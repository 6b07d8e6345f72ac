/**
 * Golden copies of everything vfio-autobind generates, checked in beside this file so that a
 * change to a generated file shows in the diff a reviewer reads: the udev rules and the hold
 * script for a representative claims file, the man pages, the bash completion, and the
 * --json output of list, explain, claims and status, all on the simulated host
 * (support/simulatedHost.ts).
 *
 * Each test compares what is generated now with its golden file;
 * `VFIO_AUTOBIND_UPDATE_GOLDEN=1 npx vitest run test/golden` writes them anew instead.
 * Outputs are made deterministic before they are compared: the paths of the test's temporary
 * trees read as the host's (/sys, /etc/vfio-autobind, /run/vfio-autobind, ...), times as one
 * fixed time, device names come from a small pci.ids of this test's own, and the man pages
 * carry a fixed date.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { pathToFileURL } from "node:url";
import { generatedPaths } from "../../src/paths.js";
import { PF, VIRTIO_NET } from "../../support/simulatedHost.js";
import { makeSimulatedMachine, type SimulatedMachine } from "../support/simulatedMachine.js";

// The names list and explain print, the same on every machine (the host's pci.ids is not read).
vi.mock("../../src/pciids/readPciIds.js", () => ({
  PCI_IDS_PATHS: [],
  readPciIds: () =>
    [
      "1af4  Red Hat, Inc.",
      "\t1041  Virtio 1.0 network device",
      "15b3  Mellanox Technologies",
      "\t101d  MT2892 Family [ConnectX-6 Dx]",
      "C 02  Network controller",
      "\t00  Ethernet controller",
      "",
    ].join("\n"),
}));

const REPO = path.resolve(import.meta.dirname, "..", "..");
const GOLDEN = import.meta.dirname;
const BUNDLE = path.join(REPO, "dist", "vfio-autobind.js");
const UPDATE = process.env["VFIO_AUTOBIND_UPDATE_GOLDEN"] === "1";
/** The date the man pages carry here, instead of the last commit's. */
const MAN_DATE = new Date("2026-01-01T00:00:00Z");

/** What this test uses of packaging/ (plain JavaScript, loaded as the packaging tests load it). */
interface Packaging {
  readonly contents: {
    makeManPage(build: object): string;
    makeConfManPage(build: object): string;
  };
  readonly layout: { NAME: string; packageInfo(repoRoot: string): object; installedFiles(repoRoot: string): object[] };
  readonly completion: { bashCompletion(script: string, command: string): string };
  readonly helpText: { runBundle(bundle: string, args: string[]): string };
}

async function loadPackaging(): Promise<Packaging> {
  const load = (file: string): Promise<unknown> => import(pathToFileURL(path.join(REPO, "packaging", file)).href);
  return {
    contents: (await load("contents.mjs")) as Packaging["contents"],
    layout: (await load("layout.mjs")) as Packaging["layout"],
    completion: (await load("generate/bashCompletion.mjs")) as Packaging["completion"],
    helpText: (await load("generate/helpText.mjs")) as Packaging["helpText"],
  };
}

/** Compares `text` with the golden file `name`, or writes it there when updating. */
function expectGolden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (UPDATE) {
    fs.writeFileSync(file, text);
    return;
  }
  expect(fs.existsSync(file), `${file} is missing: VFIO_AUTOBIND_UPDATE_GOLDEN=1 npx vitest run test/golden`).toBe(
    true,
  );
  expect(text, `${name} differs from its golden copy`).toBe(fs.readFileSync(file, "utf8"));
}

/** A representative claims file: each kind of selector, a pin, group and node options, an exclusion. */
const CLAIMS = `# Every kind of selector and option, on the simulated host.
[Claim]
Address=${VIRTIO_NET}

[Claim]
Ids=1af4:1042
Driver=vfio-pci
Group=ignore

[Claim]
VfsOf=${PF}
Mode=0660

[Exclude]
Address=0000:3b:00.2

[Claim]
Class=0x0108
`;

describe("golden files", () => {
  let machine: SimulatedMachine;
  beforeAll(() => {
    machine = makeSimulatedMachine("golden");
    const { host, ws } = machine;
    // A running kernel's release, so that the rules carry the decisions compiled for it.
    fs.mkdirSync(path.join(host.procRoot, "sys", "kernel"), { recursive: true });
    fs.writeFileSync(path.join(host.procRoot, "sys", "kernel", "osrelease"), "6.1.0-28-amd64\n");
    fs.mkdirSync(ws.configDir, { recursive: true });
    fs.writeFileSync(path.join(ws.configDir, "50-example.conf"), CLAIMS);
  });
  afterAll(() => machine.cleanup());

  /** Text as it reads on a real host: the test's trees at their usual places, one time for every time. */
  const asOnHost = (text: string): string => {
    const { host, ws } = machine;
    return text
      .replaceAll(host.tree.root, "/sys")
      .replaceAll(host.stateDir, "/run/vfio-autobind")
      .replaceAll(host.procRoot, "/proc")
      .replaceAll(host.devRoot, "/dev")
      .replaceAll(host.modulesDir, "/lib/modules/RELEASE")
      .replaceAll(ws.dir, "")
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "2026-01-01T00:00:00.000Z");
  };

  const cli = async (args: readonly string[]): Promise<string> => {
    const result = await machine.cli(args);
    expect({ args, stderr: result.stderr }).toEqual({ args, stderr: "" });
    return asOnHost(result.stdout);
  };

  it("the udev rules and the hold script that apply writes for the claims", async () => {
    await cli(["apply", "--rules-only"]);
    const { rulesFile, configDir } = machine.ws;
    expectGolden("claims.rules", asOnHost(fs.readFileSync(rulesFile, "utf8")));
    expectGolden("hold-claimed.sh", asOnHost(fs.readFileSync(generatedPaths(configDir).holdScript, "utf8")));
  });

  it("list --json, explain --json and claims --json", async () => {
    expectGolden("list.json", await cli(["list", "--json"]));
    expectGolden("explain-virtio-net.json", await cli(["explain", VIRTIO_NET, "--json"]));
    expectGolden("explain-pf.json", await cli(["explain", PF, "--json"]));
    expectGolden("claims.json", await cli(["claims", "--json"]));
  });

  it("status --json after apply", async () => {
    await cli(["apply"]);
    expectGolden("status.json", await cli(["status", "--json"]));
  });

  it("the man pages and the bash completion the packages carry", async () => {
    expect(fs.existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build first (npm test does)`).toBe(true);
    const { contents, layout, completion, helpText } = await loadPackaging();
    const build = {
      repoRoot: REPO,
      bundle: BUNDLE,
      info: layout.packageInfo(REPO),
      allFiles: layout.installedFiles(REPO),
      date: MAN_DATE,
    };
    const name = layout.NAME;
    expectGolden(`${name}.8`, contents.makeManPage(build));
    expectGolden(`${name}.conf.5`, contents.makeConfManPage(build));
    const script = helpText.runBundle(BUNDLE, ["completion"]);
    expectGolden(`${name}.bash-completion`, completion.bashCompletion(script, `/usr/sbin/${name}`));
  });
});
