/**
 * The files that hold claimed devices before udev's coldplug, as the packages ship them
 * (packaging/files/boot): the initramfs-tools hook run with a fake DESTDIR, the order its
 * init-top script gets, the dracut module's check() and install() sourced in sh with stub
 * dracut functions, and the unit. The command they call is the built bundle, pointed at a
 * test config by a `vfio-autobind` wrapper first in PATH (the hook and module look it up in
 * PATH, /usr/sbin appended), so no file of theirs takes a test-only setting.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_PATHS, generatedPaths } from "../../src/paths.js";
import { assertBundleBuilt, BUNDLE, withoutNodeNotices } from "../support/runBundle.js";
import { WRAPPER_FLAGS } from "../support/testNodes.js";
import { filledBootDir } from "./support/bootFiles.js";

const REPO = path.resolve(__dirname, "../..");
/** The boot files with the program's paths filled in, as installed. */
const BOOT = filledBootDir();
afterAll(() => fs.rmSync(BOOT, { recursive: true, force: true }));
const HOOK = path.join(BOOT, "initramfs-tools-hook");
const INIT_TOP = path.join(BOOT, "initramfs-tools-init-top");
const MODULE_SETUP = path.join(BOOT, "dracut-module-setup.sh");
const DRACUT_HOOK = path.join(BOOT, "dracut-pre-udev-hook.sh");
const INIT_BOTTOM = path.join(BOOT, "initramfs-tools-init-bottom");
const LOCAL_BLOCK = path.join(BOOT, "initramfs-tools-local-block");
const DRACUT_PRE_PIVOT = path.join(BOOT, "dracut-pre-pivot-hook.sh");
const DRACUT_TIMEOUT = path.join(BOOT, "dracut-timeout-hook.sh");
const SWEEP_UNIT = path.join(BOOT, "vfio-autobind-sweep.service");
const UNIT = path.join(BOOT, "vfio-autobind-hold.service");
const RELEASE = "6.1.0-28-amd64";
const IN_IMAGE = generatedPaths(DEFAULT_PATHS.configDir).holdScript;

interface Layout {
  programFiles: Record<string, { path: string }>;
  installedFiles(repoRoot: string): { path: string; mode: number; from: { file?: string }; formats: string[] }[];
}
let layout: Layout;
beforeAll(async () => {
  assertBundleBuilt();
  layout = (await import(pathToFileURL(path.join(REPO, "packaging/layout.mjs")).href)) as Layout;
});

let work: string;
let configDir: string;
let bin: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-boothold-"));
  configDir = path.join(work, "etc-vfio-autobind");
  fs.mkdirSync(configDir);
  // The installed command, as the wrapper runs it, but on the test's config and no /sys.
  bin = path.join(work, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "vfio-autobind"),
    `#!/bin/sh\nexec "${process.execPath}" ${WRAPPER_FLAGS.join(" ")} "${BUNDLE}" --config-dir "${configDir}" --sysfs-root "${path.join(work, "no-sys")}" --proc-root "${path.join(work, "no-proc")}" --accounts-root "${work}" "$@"\n`,
    { mode: 0o755 },
  );
});
afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

const claim = (text = "[Claim]\nAddress=0000:00:03.0\n"): void =>
  fs.writeFileSync(path.join(configDir, "50-test.conf"), text);
const env = (extra: Record<string, string>) => ({ PATH: `${bin}:/usr/bin:/bin`, ...extra });
const stamp = () => generatedPaths(configDir).initramfsStamp(RELEASE);
const hookScriptOf = (): string =>
  spawnSync(path.join(bin, "vfio-autobind"), ["hold-script"], { encoding: "utf8", env: env({}) }).stdout;

describe("the initramfs-tools hook", () => {
  it("answers prereqs with none, as mkinitramfs asks first", () => {
    const result = spawnSync("sh", [HOOK, "prereqs"], { encoding: "utf8", env: env({}) });
    expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 0, stdout: "\n" });
  });

  it("puts a freshly generated script into the image and records the digest for the release", () => {
    claim();
    const destdir = path.join(work, "image");
    fs.mkdirSync(destdir);
    const result = spawnSync("sh", [HOOK], { encoding: "utf8", env: env({ DESTDIR: destdir, version: RELEASE }) });
    expect(withoutNodeNotices(result.stderr)).toBe("");
    expect(result.status).toBe(0);
    const inImage = fs.readFileSync(path.join(destdir, IN_IMAGE), "utf8");
    expect(inImage).toBe(hookScriptOf());
    expect(inImage).toContain("\t0000:00:03.0)\n");
    const digest = /^# config-digest: ([0-9a-f]+)$/m.exec(inImage)?.[1];
    expect(fs.readFileSync(stamp(), "utf8")).toMatch(new RegExp(`^${digest} [A-Za-z0-9.~+-]+\n$`));
  });

  it("with a broken config: no script in the image, the stamp taken back, a warning, and the build goes on", () => {
    claim();
    const destdir = path.join(work, "image");
    fs.mkdirSync(destdir);
    expect(spawnSync("sh", [HOOK], { env: env({ DESTDIR: destdir, version: RELEASE }) }).status).toBe(0);
    expect(fs.existsSync(stamp())).toBe(true);
    claim("[Claim]\nIds=nope\n");
    const result = spawnSync("sh", [HOOK], { encoding: "utf8", env: env({ DESTDIR: destdir, version: RELEASE }) });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${configDir}/50-test.conf:2: Ids="nope"`);
    expect(result.stderr).toContain(
      `W: vfio-autobind: no device holds in this initramfs; fix the claims (vfio-autobind check), then run: update-initramfs -u -k ${RELEASE}`,
    );
    expect(fs.existsSync(path.join(destdir, IN_IMAGE))).toBe(false);
    expect(fs.existsSync(stamp())).toBe(false);
  });
});

describe("the init-top script", () => {
  it("answers prereqs with none and does nothing where the image has no hold script", () => {
    expect(spawnSync("sh", [INIT_TOP, "prereqs"], { encoding: "utf8" }).stdout).toBe("\n");
    // The real /etc/vfio-autobind/generated/hold-claimed.sh must not exist here for this to mean something.
    if (!fs.existsSync(IN_IMAGE)) expect(spawnSync("sh", [INIT_TOP], { encoding: "utf8" }).status).toBe(0);
  });

  it("is ordered before init-top/udev the way cache_run_scripts orders them: tsort of name pairs", () => {
    // Debian bookworm's init-top scripts (initramfs-tools-core, udev), none with prerequisites.
    const ours = path.basename(
      layout.installedFiles(REPO).find((f) => f.from.file === "packaging/files/boot/initramfs-tools-init-top")?.path ??
        "",
    );
    expect(ours).toMatch(/^[A-Za-z0-9._-]+$/); // set_initlist skips any other name
    const names = ["udev", "keymap", "blacklist", "all_generic_ide", ours];
    const pairs = names.map((n) => `${n} ${n}\n`).join("");
    const order = spawnSync("tsort", [], { input: pairs, encoding: "utf8" }).stdout.trim().split("\n");
    expect(order.indexOf(ours)).toBeLessThan(order.indexOf("udev"));
    expect(order[0]).toBe(ours);
  });
});

describe("the init-bottom and local-block scripts", () => {
  it("answer prereqs with none", () => {
    for (const file of [INIT_BOTTOM, LOCAL_BLOCK])
      expect(spawnSync("sh", [file, "prereqs"], { encoding: "utf8" }).stdout, file).toBe("\n");
  });

  it("init-bottom runs before init-bottom/udev, which stops udevd and moves /dev away", () => {
    const ours = path.basename(
      layout.installedFiles(REPO).find((f) => f.from.file === "packaging/files/boot/initramfs-tools-init-bottom")
        ?.path ?? "",
    );
    expect(ours).toMatch(/^[A-Za-z0-9._-]+$/);
    // Debian bookworm's init-bottom scripts (udev; cryptsetup's and lvm2's where installed).
    const names = ["udev", "cryptroot", "lvm2", ours];
    const pairs = names.map((n) => `${n} ${n}\n`).join("");
    const order = spawnSync("tsort", [], { input: pairs, encoding: "utf8" }).stdout.trim().split("\n");
    expect(order.indexOf(ours)).toBeLessThan(order.indexOf("udev"));
  });
});

/** Sources module-setup.sh in dash with dracut's functions stubbed, then runs `body`. */
function dracut(body: string, initdir: string): { status: number | null; stdout: string; stderr: string } {
  const script = [
    'dwarn() { echo "dwarn: $*" >&2; }',
    'inst_hook() { echo "inst_hook $*"; }',
    `initdir='${initdir}'`,
    `kernel='${RELEASE}'`,
    `moddir='/usr/lib/dracut/modules.d/90vfio-autobind'`,
    `. '${MODULE_SETUP}'`,
    body,
  ].join("\n");
  const result = spawnSync("dash", ["-c", script], { encoding: "utf8", env: env({}) });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the dracut module", () => {
  it("check(): 0 when claims exist, so a generic build includes it; 255 with none or a broken config", () => {
    const initdir = path.join(work, "initdir");
    expect(dracut("check; echo $?", initdir).stdout).toBe("255\n");
    claim();
    expect(dracut("check; echo $?", initdir).stdout).toBe("0\n");
    claim("[Claim]\nIds=nope\n");
    expect(dracut("check; echo $?", initdir).stdout).toBe("255\n");
    // Without the command at all (PATH without it): not included.
    const dash = spawnSync("sh", ["-c", "command -v dash"], { encoding: "utf8" }).stdout.trim();
    const bare = spawnSync(dash, ["-c", `. '${MODULE_SETUP}'; check; echo $?`], {
      encoding: "utf8",
      env: { PATH: "/nonexistent" },
    });
    expect(bare.stdout).toBe("255\n");
  });

  it("install(): the generated script in the image, the stamp written, the pre-udev hook installed", () => {
    claim();
    const initdir = path.join(work, "initdir");
    const result = dracut("install; echo $?", initdir);
    expect(withoutNodeNotices(result.stderr)).toBe("");
    const moduleDir = "/usr/lib/dracut/modules.d/90vfio-autobind";
    expect(result.stdout).toBe(
      [
        `inst_hook pre-udev 00 ${moduleDir}/vfio-autobind-hold.sh`,
        `inst_hook initqueue/timeout 00 ${moduleDir}/vfio-autobind-timeout.sh`,
        `inst_hook pre-pivot 00 ${moduleDir}/vfio-autobind-pre-pivot.sh`,
        "0\n",
      ].join("\n"),
    );
    const inImage = fs.readFileSync(path.join(initdir, IN_IMAGE), "utf8");
    expect(inImage).toBe(hookScriptOf());
    const digest = /^# config-digest: ([0-9a-f]+)$/m.exec(inImage)?.[1];
    expect(fs.readFileSync(stamp(), "utf8")).toMatch(new RegExp(`^${digest} [A-Za-z0-9.~+-]+\n$`));
    // Each hook installed is the module's own file, as the layout ships it.
    const shipped = (file: string): string | undefined =>
      layout.installedFiles(REPO).find((f) => f.from.file === `packaging/files/boot/${file}`)?.path;
    expect(shipped("dracut-pre-udev-hook.sh")).toBe(`${moduleDir}/vfio-autobind-hold.sh`);
    expect(shipped("dracut-timeout-hook.sh")).toBe(`${moduleDir}/vfio-autobind-timeout.sh`);
    expect(shipped("dracut-pre-pivot-hook.sh")).toBe(`${moduleDir}/vfio-autobind-pre-pivot.sh`);
  });

  it("install() with a broken config: a warning naming dracut's command, no hook, no stamp", () => {
    claim("[Claim]\nIds=nope\n");
    const result = dracut("install; echo $?", path.join(work, "initdir"));
    expect(result.stdout).toBe("0\n");
    expect(result.stderr).toContain(
      `dwarn: vfio-autobind: no device holds in this initramfs; fix the claims (vfio-autobind check), then run: dracut -f --kver ${RELEASE}`,
    );
    expect(fs.existsSync(stamp())).toBe(false);
  });
});

describe("every boot file", () => {
  it("is POSIX sh (dash -n), and names the hold script where the program writes it", () => {
    expect(layout.programFiles["holdScript"]?.path).toBe(IN_IMAGE);
    const scripts = [INIT_BOTTOM, LOCAL_BLOCK, DRACUT_PRE_PIVOT, DRACUT_TIMEOUT];
    for (const file of [HOOK, INIT_TOP, MODULE_SETUP, DRACUT_HOOK, ...scripts]) {
      expect(spawnSync("dash", ["-n", file]).status, file).toBe(0);
      expect(fs.readFileSync(file, "utf8").split("\n")[0], file).toBe("#!/bin/sh");
    }
    for (const file of [HOOK, INIT_TOP, DRACUT_HOOK, UNIT, SWEEP_UNIT, ...scripts]) {
      const paths = fs.readFileSync(file, "utf8").match(/\/etc\/vfio-autobind\/\S*/g) ?? [];
      expect(paths.length, file).toBeGreaterThan(0);
      for (const p of paths)
        expect(p.replace(/["']$/, ""), file).toMatch(/^\/etc\/vfio-autobind\/(generated\/hold-claimed\.sh)?$/);
    }
  });

  it("the unit runs the script before udev's coldplug, only when it exists, outside the default dependencies", () => {
    const text = fs.readFileSync(UNIT, "utf8");
    const keys = text
      .split("\n")
      .filter((line) => /^[A-Za-z]+=/.test(line))
      .map((line) => line.split("=") as [string, string]);
    const value = (key: string): string[] => keys.filter(([k]) => k === key).map(([, v]) => v);
    expect(value("DefaultDependencies")).toEqual(["no"]);
    expect(value("Before")[0]?.split(" ")).toContain("systemd-udev-trigger.service");
    expect(value("ConditionPathExists")).toEqual([IN_IMAGE]);
    expect(value("ExecStart")).toEqual([`/bin/sh ${IN_IMAGE}`]);
    expect(value("Type")).toEqual(["oneshot"]);
    expect(value("WantedBy")).toEqual(["sysinit.target"]);
    const verify = spawnSync("systemd-analyze", ["verify", "--man=no", UNIT], { encoding: "utf8" });
    if (verify.error === undefined) {
      const ours = verify.stderr.split("\n").filter((line) => line.includes("vfio-autobind-hold"));
      expect(ours).toEqual([]);
    }
  });

  it("the sweep runs after the coldplug, waits for udev's queue, and its timer runs it again", () => {
    const text = fs.readFileSync(SWEEP_UNIT, "utf8");
    expect(text).toMatch(/^After=.*systemd-udev-trigger\.service/m);
    expect(text).toMatch(/^ExecStartPre=-\/bin\/udevadm settle --timeout=\d+$/m);
    expect(text).toMatch(new RegExp(`^ConditionPathExists=${IN_IMAGE}$`, "m"));
    expect(text).toMatch(/^WantedBy=multi-user\.target$/m);
    const timer = fs.readFileSync(path.join(BOOT, "vfio-autobind-sweep.timer"), "utf8");
    expect(timer).toMatch(/^OnUnitInactiveSec=\S+$/m);
    expect(timer).toMatch(/^OnBootSec=\S+$/m);
    const verify = spawnSync(
      "systemd-analyze",
      ["verify", "--man=no", SWEEP_UNIT, path.join(BOOT, "vfio-autobind-sweep.timer")],
      { encoding: "utf8" },
    );
    if (verify.error === undefined) {
      const ours = verify.stderr.split("\n").filter((line) => line.includes("vfio-autobind-sweep"));
      expect(ours).toEqual([]);
    }
  });
});
