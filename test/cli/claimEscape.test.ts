/**
 * claim, apply and check against hostile input, in process (the CLI as runCli wires it,
 * the simulated kernel underneath): argv that tries to smuggle a second section into a
 * claim file, symlinks planted at the temporary names, a hand-edited rules file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  parseAddressSelector,
  parseClaimFile,
  parseClassSelector,
  parseIdSelector,
  parsePfSelector,
} from "../../src/config/claimConfig.js";
import { controlCharacterAt } from "../../src/text/safeText.js";
import { makeSimulatedHost, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { SimulatedKernel } from "../../support/simulatedKernel.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

let host: SimulatedHost;
let ws: CliWorkspace;
let work: string;
let configDir: string;
let rulesFile: string;

beforeAll(() => {
  host = makeSimulatedHost();
});
afterAll(() => host.cleanup());
beforeEach(() => {
  ws = makeCliWorkspace("escape");
  ({ dir: work, configDir, rulesFile } = ws);
});
afterEach(() => ws.cleanup());

const adapters = { kernelIo: (root: string) => SimulatedKernel.open(root) };

const cli = (args: readonly string[], dirs = { configDir, rulesFile }, udevadm = ws.udevadm) =>
  runCliInProcess(
    [
      // Every root first: a "--" in args must never turn them into selectors, which would
      // leave the real /etc/vfio-autobind as the config directory.
      ...host.rootArgs({ ...ws.roots, ...dirs, udevadm }),
      ...args,
    ],
    adapters,
  );

const claimFiles = (dir = configDir): string[] =>
  fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".conf")) : [];

describe("claim writes only the claim asked for", () => {
  it("an argument holding a newline and a second section does not reach the file", async () => {
    const injected = "x\n[Claim]\nAddress=*:*\nForce=yes\n#";
    const result = await cli(["claim", VIRTIO_NET], { configDir, rulesFile }, injected);
    expect(result.exitCode).toBe(0);
    const [name] = claimFiles();
    const text = fs.readFileSync(path.join(configDir, name as string), "utf8");
    expect(text.split("\n")[0]).toBe(`# Written by: vfio-autobind claim ${VIRTIO_NET}`);
    const parsed = parseClaimFile(text, "c.conf");
    expect(parsed.errors).toEqual([]);
    expect(parsed.claims).toHaveLength(1);
    expect(parsed.claims[0]).toMatchObject({ selectors: { addresses: [VIRTIO_NET] }, force: false });
  });

  it("refuses a selector or option with a newline, naming it, and writes nothing", async () => {
    for (const args of [
      ["claim", `${VIRTIO_NET}\nForce=yes`],
      ["claim", VIRTIO_NET, "--driver", "vfio-pci\nForce=yes"],
      ["claim", VIRTIO_NET, "--ids", "1af4:1041\n[Claim]"],
    ]) {
      const result = await cli(args);
      expect(result.exitCode).toBe(2);
      // one line naming the argument (then yargs' pointer to --help), the newline escaped
      expect(result.stderr.split("\n")[0]).toMatch(/^vfio-autobind: .*\\n/);
      expect(result.stderr.split("\n")[1]).toBe("Try 'vfio-autobind --help'.");
      expect(claimFiles()).toEqual([]);
    }
  });

  it("property: any argv either is refused with exit 2 or writes exactly the claim asked for", async () => {
    // Mostly values claim accepts (so that files get written), and any string at all.
    // A value starting with "-" would be read as an option (yargs' business, not this test's).
    const anyString = fc
      .oneof(
        fc.string({ unit: "binary", maxLength: 24 }),
        fc
          .array(fc.constantFrom("\n", "\r", '"', "=", "*:*", "[Claim]", "Force=yes", "\u2028", "\u0000", " "), {
            maxLength: 4,
          })
          .map((parts) => parts.join("")),
      )
      .map((v) => (v.startsWith("-") ? `x${v}` : v));
    const mostly = (...valid: string[]) =>
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...valid) },
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...valid), anyString).map(([v, s]) => `${v}${s}`) },
        { weight: 1, arbitrary: anyString },
      );
    const address = mostly(VIRTIO_NET, "0000:3b:00.*", "3b:00.2", "0000:3b:0[01].?");
    const argv = fc.record({
      selectors: fc.array(address, { maxLength: 2 }),
      ids: fc.array(mostly("1af4:1041", "15B3:101e:15b3:0001"), { maxLength: 2 }),
      classes: fc.array(mostly("0x02", "0108", "0x010802"), { maxLength: 1 }),
      vfsOf: fc.array(mostly("0000:3b:00.0", "3b:00.0"), { maxLength: 1 }),
      driver: fc.option(mostly("vfio-pci", "auto", "mlx5_vfio_pci"), { nil: undefined }),
      group: fc.option(mostly("ignore", "check", "bind"), { nil: undefined }),
      force: fc.boolean(),
      exclude: fc.boolean(),
    });
    let written = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(argv, async (a) => {
        const dir = fs.mkdtempSync(path.join(work, "case-"));
        const dirs = { configDir: path.join(dir, "etc"), rulesFile: path.join(dir, "rules.d", "69.rules") };
        // No "--": yargs leaves what follows it out of the selectors (reported to the lead).
        const args = [
          "claim",
          ...a.selectors,
          ...a.ids.flatMap((v) => ["--ids", v]),
          ...a.classes.flatMap((v) => ["--class", v]),
          ...a.vfsOf.flatMap((v) => ["--vfs-of", v]),
          ...(a.driver === undefined ? [] : ["--driver", a.driver]),
          ...(a.group === undefined ? [] : ["--group", a.group]),
          ...(a.force ? ["--force"] : []),
          ...(a.exclude ? ["--exclude"] : []),
        ];
        const result = await cli(args, dirs);
        const files = claimFiles(dirs.configDir);
        if (result.exitCode !== 0) {
          // yargs refuses some option values itself (exit 2 too); nothing is written either way
          expect(result.exitCode, result.stderr).toBe(2);
          expect(files).toEqual([]);
          refused++;
          return;
        }
        expect(files).toHaveLength(1);
        const text = fs.readFileSync(path.join(dirs.configDir, files[0] as string), "utf8");
        expect(controlCharacterAt(text)).toBe(-1);
        const parsed = parseClaimFile(text, "c.conf");
        expect(parsed.errors).toEqual([]);
        const sections = a.exclude ? parsed.exclusions : parsed.claims;
        expect(parsed.claims.length + parsed.exclusions.length).toBe(1);
        expect(sections).toHaveLength(1);
        const section = sections[0];
        expect(section?.selectors).toEqual({
          addresses: a.selectors.map(parseAddressSelector),
          ids: a.ids.map(parseIdSelector),
          classes: a.classes.map(parseClassSelector),
          vfsOf: a.vfsOf.map(parsePfSelector),
        });
        if (!a.exclude) {
          expect(parsed.claims[0]).toMatchObject({
            driver: a.driver ?? "auto",
            group: a.group ?? "check",
            force: a.force,
          });
        }
        written++;
      }),
      { numRuns: 400 },
    );
    console.log(`claim argv property: 400 cases, ${written} written, ${refused} refused`);
    expect(written).toBeGreaterThan(0);
  }, 120_000);
});

describe("claim and rule files are written without following planted symlinks", () => {
  it("a symlink at the claim file's temporary name does not truncate its target", async () => {
    const victim = path.join(work, "victim");
    fs.writeFileSync(victim, "precious\n");
    fs.mkdirSync(configDir, { recursive: true });
    const file = path.join(configDir, "50-claim-0000_00_03.0.conf");
    for (const temporary of [`${file}.tmp`, `${file}.${process.pid}.tmp`]) fs.symlinkSync(victim, temporary);
    const result = await cli(["claim", VIRTIO_NET]);
    expect(result.exitCode).toBe(0);
    expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    expect(fs.lstatSync(file).isFile()).toBe(true);
  });

  it("a symlink at the rules file's temporary name does not truncate its target", async () => {
    const victim = path.join(work, "victim");
    fs.writeFileSync(victim, "precious\n");
    fs.mkdirSync(path.dirname(rulesFile), { recursive: true });
    fs.symlinkSync(victim, `${rulesFile}.${process.pid}.tmp`);
    const result = await cli(["claim", VIRTIO_NET]);
    expect(result.exitCode).toBe(0);
    expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    expect(fs.readFileSync(rulesFile, "utf8")).toContain(`KERNEL=="${VIRTIO_NET}"`);
  });

  it("does not replace a claim file that already exists", async () => {
    fs.mkdirSync(configDir, { recursive: true });
    const file = path.join(configDir, "50-claim-0000_00_03.0.conf");
    fs.writeFileSync(file, "[Claim]\nAddress=0000:00:04.0\n");
    const result = await cli(["claim", VIRTIO_NET]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("already exists");
    expect(fs.readFileSync(file, "utf8")).toBe("[Claim]\nAddress=0000:00:04.0\n");
  });
});

describe("check reads the installed rules back", () => {
  it("flags a hand-edited line with a RUN, naming file:line, while the digest still matches", async () => {
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    expect(await cli(["check"])).toMatchObject({ exitCode: 0, stderr: "" });
    const lines = fs.readFileSync(rulesFile, "utf8").split("\n");
    const index = lines.findIndex((l) => l.startsWith(`KERNEL=="${VIRTIO_NET}"`));
    lines[index] = `${lines[index]}, RUN+="/bin/sh -c 'touch /tmp/pwned'"`;
    fs.writeFileSync(rulesFile, lines.join("\n"));
    const result = await cli(["check"]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `${rulesFile}:${index + 1}: "RUN+=" is not a rule vfio-autobind generates; run "vfio-autobind apply" to write it again\n`,
    );
  });
});
