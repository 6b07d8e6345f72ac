/**
 * The places that must agree on where things are and how node runs the bundle: the
 * program's defaults (src/paths.ts), the packaging layout, the wrapper, the packaged udev
 * rule and the README; and the README's commands are the ones CI and npm run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PATHS, generatedPaths } from "../../src/paths.js";
import { PACKAGED_WRAPPER } from "../../support/packagedCommands.js";
import { assertBundleBuilt, BUNDLE, withoutNodeNotices } from "../support/runBundle.js";
import { assertTestNode, TEST_NODES, type TestNode } from "../support/testNodes.js";
import { TEST_GUARD } from "../support/hostGuard.js";

const REPO = path.resolve(__dirname, "../..");
const read = (file: string): string => fs.readFileSync(path.join(REPO, file), "utf8");

interface Layout {
  BUNDLE_PATH: string;
  HELPER_PATH: string;
  NODE_FLAGS: string[];
  QUIET_NODE_FLAGS: string[];
  HELPER_NODE_FLAGS: string[];
  programFiles: Record<
    "configDir" | "claimsRule" | "holdScript" | "initramfsStamps" | "kernelLog" | "stateDir",
    { path: string }
  >;
  installedFiles(repoRoot: string): { path: string; from: { file?: string; generate?: string; fill?: boolean } }[];
}
let layout: Layout;
beforeAll(async () => {
  layout = (await import(pathToFileURL(path.join(REPO, "packaging/layout.mjs")).href)) as Layout;
});

/** The README's indented command lines (four spaces), in order. */
const readmeCommands = (): string[] =>
  read("README.md")
    .split("\n")
    .filter((line) => /^ {4}\S/.test(line))
    .map((line) => line.trim());

describe("paths", () => {
  it("the packages describe the program's own default paths, every one of them", () => {
    const generated = generatedPaths(DEFAULT_PATHS.configDir);
    expect(Object.fromEntries(Object.entries(layout.programFiles).map(([key, file]) => [key, file.path]))).toEqual({
      configDir: DEFAULT_PATHS.configDir,
      claimsRule: DEFAULT_PATHS.rulesFile,
      holdScript: generated.holdScript,
      initramfsStamps: `${generated.dir}/initramfs-*.digest`,
      kernelLog: DEFAULT_PATHS.kmsg,
      stateDir: DEFAULT_PATHS.stateDir,
    });
  });

  it("no script or unit of the packages names the hold script but through the layout's placeholder", () => {
    const hold = generatedPaths(DEFAULT_PATHS.configDir).holdScript;
    for (const file of layout.installedFiles(REPO)) {
      if (file.from.file?.startsWith("packaging/files/") !== true) continue;
      const text = fs.readFileSync(path.resolve(REPO, file.from.file), "utf8");
      expect(text.includes(hold), file.from.file).toBe(false);
      if (text.includes("@HOLD_SCRIPT@")) expect(file.from.fill, file.from.file).toBe(true);
    }
  });

  it("the wrapper and the udev rule run the installed bundle with node's flags from the layout", () => {
    const installed = (file: string) => layout.installedFiles(REPO).find((f) => f.path === file)?.from;
    expect(installed(layout.BUNDLE_PATH)).toEqual({ file: "dist/vfio-autobind.js" });
    expect(installed(layout.HELPER_PATH)).toEqual({ file: "dist/udev-helper.js" });
    const quiet = layout.QUIET_NODE_FLAGS.join(" ");
    expect(read(PACKAGED_WRAPPER).trimEnd().split("\n").slice(-3)).toEqual([
      "quiet=",
      `if /usr/bin/node ${layout.NODE_FLAGS.join(" ")} ${quiet} --version >/dev/null 2>&1; then quiet="${quiet}"; fi`,
      `exec /usr/bin/node ${layout.NODE_FLAGS.join(" ")} $quiet ${layout.BUNDLE_PATH} "$@"`,
    ]);
    const runs = [...read("rules.d/70-vfio-autobind.rules").matchAll(/RUN\+="([^"]*)"/g)].map((m) => m[1]);
    const helper = `/usr/bin/node ${layout.HELPER_NODE_FLAGS.join(" ")} ${layout.HELPER_PATH}`;
    // The one node the rule starts (the other RUN logs a stale hold's release with sh).
    expect(runs.filter((run) => run?.includes("node") === true)).toEqual([helper]);
    // The helper's flags are the wrapper's and more: it runs as an admin's command does.
    expect(layout.HELPER_NODE_FLAGS.slice(0, layout.NODE_FLAGS.length)).toEqual(layout.NODE_FLAGS);
  });
});

describe("node's flags", () => {
  it.each(TEST_NODES)("start the wrapper's and the udev rule's command lines on $name", async (node) => {
    assertTestNode(node);
    assertBundleBuilt();
    expect((await execa(node.binary, ["--version"])).stdout).toBe(`v${node.version}`);
    const version = (JSON.parse(read("package.json")) as { version: string }).version;
    for (const flags of [layout.NODE_FLAGS, layout.HELPER_NODE_FLAGS]) {
      const result = await execa(node.binary, [...flags, BUNDLE, "--version"], { reject: false });
      expect({
        flags,
        exitCode: result.exitCode,
        stdout: result.stdout,
        stderr: withoutNodeNotices(result.stderr),
      }).toEqual({ flags, exitCode: 0, stdout: version, stderr: "" });
    }
  });

  it.each(TEST_NODES)(
    "the installed command starts on $name with no notice from V8, and keeps the program's stderr and exit code",
    async (node) => {
      assertTestNode(node);
      assertBundleBuilt();
      const wrapper = wrapperRunning(node);
      try {
        const run = async (args: string[]) => {
          const result = await execa(wrapper.file, args, { reject: false, env: TEST_GUARD });
          return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
        };
        const version = (JSON.parse(read("package.json")) as { version: string }).version;
        expect(await run(["--version"])).toEqual({ exitCode: 0, stdout: version, stderr: "" });
        expect(await run(["explain", "nonsense"])).toEqual({
          exitCode: 2,
          stdout: "",
          stderr:
            'vfio-autobind: "nonsense" is not a PCI device: give an address such as 0000:3b:00.2 or 3b:00.2, or a sysfs path\n' +
            "Try 'vfio-autobind --help'.",
        });
        const noSys = path.join(wrapper.dir, "no-sys");
        expect(await run(["list", "--sysfs-root", noSys, "--modules-dir", wrapper.dir])).toEqual({
          exitCode: 1,
          stdout: "",
          stderr: [
            `vfio-autobind: warning: ${wrapper.dir}/modules.alias: missing; offering only the generic vfio_pci module`,
            `vfio-autobind: ${noSys}/bus/pci/devices: cannot list PCI devices (ENOENT)`,
          ].join("\n"),
        });
      } finally {
        fs.rmSync(wrapper.dir, { recursive: true, force: true });
      }
    },
  );

  it.each(TEST_NODES)("the wrapper's are Node's own options, which $name documents in --help", async (node) => {
    assertTestNode(node);
    const help = (await execa(node.binary, ["--help"])).stdout;
    for (const flag of layout.NODE_FLAGS) expect(help).toMatch(new RegExp(`^\\s+${flag}\\b`, "m"));
  });
});

/** The packaged wrapper as it is, but running this node and the built bundle, in a new directory. */
function wrapperRunning(node: TestNode): { dir: string; file: string } {
  const text = read(PACKAGED_WRAPPER);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-wrapper-"));
  const file = path.join(dir, "vfio-autobind");
  const copy = text.replaceAll("/usr/bin/node", node.binary).replaceAll(layout.BUNDLE_PATH, BUNDLE);
  expect(copy).not.toMatch(/\/usr\/(bin|lib)\//);
  fs.writeFileSync(file, copy, { mode: 0o755 });
  return { dir, file };
}

describe("the README's commands", () => {
  it("runs the tool the way the installed wrapper does", () => {
    const node = `node ${layout.NODE_FLAGS.join(" ")} dist/vfio-autobind.js`;
    expect(readmeCommands()).toContain(`npm ci && npm run build && ${node} list`);
  });

  it("npm start runs the tool the way the installed wrapper does", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    expect(scripts["start"]).toBe(`node ${layout.NODE_FLAGS.join(" ")} dist/vfio-autobind.js`);
  });

  it("sets up and runs the tests with one command, which .ci/run runs as written", () => {
    const setupAndTest = "npm run setup && npm test";
    expect(readmeCommands()).toContain(setupAndTest);
    expect(readmeCommands()).toContain("VFIO_AUTOBIND_RELEASE=trixie npm run test:vm");
    expect(readmeCommands()).toContain("npm run test:fleet");
    const boot = "VFIO_AUTOBIND_RELEASE=trixie npm run test:boot";
    expect(readmeCommands()).toContain(boot);
    const ci = read(".ci/run")
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#") && !/^(set|cd) /.test(line));
    const smoke = ["bookworm", "forky"].map((release) => `VFIO_AUTOBIND_RELEASE=${release} npm run test:smoke`);
    for (const line of smoke) expect(readmeCommands()).toContain(line);
    const vm = "VFIO_AUTOBIND_RELEASE=trixie npm run test:vm";
    expect(ci).toEqual([setupAndTest, vm, "npm run test:fleet", boot, ...smoke]);
  });

  it("npm run setup installs what the tests, the real-kernel and fleet suites and the benchmark need; npm test installs nothing", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    expect(scripts["setup"]).toBe("bash scripts/setup.sh");
    const setup = read("scripts/setup.sh");
    const list = /^packages=\(\n([\s\S]*?)\n\)$/m.exec(setup)?.[1] ?? "";
    const packages = list
      .split("\n")
      .map((line) => line.replace(/#.*/, "").trim())
      .filter(Boolean);
    expect(packages.sort()).toEqual(
      [
        "python3",
        "util-linux",
        "rpm",
        "rpmlint",
        "lintian",
        "man-db",
        "mmdebstrap",
        "debian-archive-keyring",
        "qemu-system-x86",
        "cpio",
        "make",
        "gcc-12",
        "kmod",
        "e2fsprogs",
        "driverctl",
        "ansible",
        "ansible-lint",
      ].sort(),
    );
    expect(setup).toContain("npm ci --no-audit --no-fund");
    for (const name of ["test", "pretest", "bench", "build"]) expect(scripts[name]).not.toMatch(/apt|setup/);
  });
});

describe("the benchmark stands on its own", () => {
  const sources = (dir: string): string[] =>
    fs
      .readdirSync(path.join(REPO, dir))
      .filter((f) => /\.(ts|mjs)$/.test(f))
      .map((f) => path.join(dir, f));

  it("bench/ and support/ import nothing from test/ and install nothing", () => {
    for (const file of [...sources("bench"), ...sources("support")]) {
      const text = read(file);
      expect(text, file).not.toMatch(/from "(\.\.\/)+test\//);
      expect(text, file).not.toMatch(/entryPoints: \["test\//);
      expect(text, file).not.toMatch(/"apt-get"|"apt"|"dpkg"/);
    }
  });

  it("src/ never imports support/, so the bundle cannot carry it", () => {
    const walk = (dir: string): string[] =>
      fs
        .readdirSync(path.join(REPO, dir), { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    for (const file of walk("src")) expect(read(file), file).not.toMatch(/from "(\.\.\/)+support\//);
  });
});
