/**
 * The boot pieces that let go of holds, run where they run: in a root of their own (a
 * chroot holding dash as /bin/sh, a fake sysfs at /sys, a file at /dev/kmsg and the real
 * root mounted at /root as initramfs-tools mounts it), by the paths the packages give them.
 * The chroot keeps the host's /sys out of reach: nothing here can touch a real device.
 *
 * - initramfs-tools' init-bottom and dracut's pre-pivot hook: the real root's hold script
 *   releases the holds its claims no longer stand behind; with none there, every hold goes.
 * - initramfs-tools' local-block and dracut's initqueue/timeout hook: held storage
 *   controllers go while the root device is late.
 * - The sweep unit's command: every hold still there goes.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseClaimFile } from "../../src/config/claimConfig.js";
import { generateHoldScript } from "../../src/hold/holdScript.js";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { DEFAULT_PATHS, generatedPaths } from "../../src/paths.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { filledBootFile } from "./support/bootFiles.js";
import { requireRoot } from "./support/hostTools.js";

const REPO = path.resolve(__dirname, "../..");
const HOLD_SCRIPT = generatedPaths(DEFAULT_PATHS.configDir).holdScript;
const ROOTMNT = "/root";
/** chroot(8), found on this process's PATH (the scripts get a PATH of the chroot's own). */
const CHROOT = execFileSync("sh", ["-c", "command -v chroot"], { encoding: "utf8" }).trim();

interface Layout {
  installedFiles(repoRoot: string): { path: string; from: { file?: string } }[];
  SWEEP_UNIT: string;
}
let layout: Layout;
/** Where the packages install each boot file, by its name in packaging/files/boot. */
const installed = (name: string): string => {
  const file = layout.installedFiles(REPO).find((f) => f.from.file === `packaging/files/boot/${name}`);
  if (file === undefined) throw new Error(`the packages install no packaging/files/boot/${name}`);
  return file.path;
};

beforeAll(async () => {
  requireRoot("running the boot scripts in a chroot");
  layout = (await import(pathToFileURL(path.join(REPO, "packaging/layout.mjs")).href)) as Layout;
});

let root: string;
let tree: FakeSysfs;
beforeEach(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-bootroot-")));
  installDash(root);
  for (const dir of ["bus/pci/devices", "bus/pci/drivers", "kernel/iommu_groups", "module"])
    fs.mkdirSync(path.join(root, "sys", dir), { recursive: true });
  tree = FakeSysfs.open(path.join(root, "sys"));
  fs.writeFileSync(path.join(tree.root, "bus/pci/drivers_probe"), "");
  fs.mkdirSync(path.join(root, "dev"));
  fs.writeFileSync(path.join(root, "dev/kmsg"), "");
  fs.mkdirSync(path.join(root, ROOTMNT));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** dash and the libraries it loads, at the same paths inside `dir`; /bin/sh is dash. */
function installDash(dir: string): void {
  const dash = execFileSync("sh", ["-c", "command -v dash"], { encoding: "utf8" }).trim();
  const libraries = execFileSync("ldd", [dash], { encoding: "utf8" })
    .split("\n")
    .flatMap((line) => /(\/\S+) \(0x/.exec(line)?.slice(1, 2) ?? []);
  for (const file of [dash, ...libraries]) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.copyFileSync(file, path.join(dir, file));
    fs.chmodSync(path.join(dir, file), 0o755);
  }
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
  if (!fs.existsSync(path.join(dir, "bin/sh"))) fs.copyFileSync(dash, path.join(dir, "bin/sh"));
  fs.chmodSync(path.join(dir, "bin/sh"), 0o755);
}

/** The hold script the claims in `text` give, at `at` inside the chroot. */
function holdScriptAt(at: string, text: string): void {
  const parsed = parseClaimFile(text, "/etc/vfio-autobind/50-test.conf");
  expect(parsed.errors).toEqual([]);
  const file = path.join(root, at);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, generateHoldScript(parsed, "0123456789abcdef"));
}

/** A boot file as the packages install it (the program's paths filled in), at its installed path inside the chroot. */
function bootFile(name: string): string {
  const at = installed(name);
  fs.mkdirSync(path.join(root, path.dirname(at)), { recursive: true });
  fs.writeFileSync(path.join(root, at), filledBootFile(name), { mode: 0o755 });
  return at;
}

let group = 0;
/** A PCI endpoint in an IOMMU group of its own; `held` writes our hold, `override` another value. */
function device(address: string, options: { classCode?: string; override?: string; driver?: string } = {}): void {
  group += 1;
  tree.addDevice({
    address,
    vendor: "1af4",
    device: "1041",
    iommuGroup: group,
    ...(options.classCode === undefined ? {} : { classCode: options.classCode }),
  });
  fs.writeFileSync(path.join(tree.deviceDir(address), "driver_override"), `${options.override ?? "(null)"}\n`);
  if (options.driver !== undefined) tree.bindDriver(address, options.driver);
}

const overrideOf = (address: string): string =>
  fs.readFileSync(path.join(tree.deviceDir(address), "driver_override"), "utf8");
/**
 * The devices handed to the kernel: override cleared, and a probe asked for each, in order
 * (a kernel-log line says so; drivers_probe, a plain file here, keeps the last write only).
 */
const released = (): string[] => {
  const cleared = fs
    .readdirSync(path.join(tree.root, "bus/pci/devices"))
    .filter((address) => overrideOf(address) === "\n")
    .sort();
  const said = kmsg().flatMap(
    (line) => /^<5>vfio-autobind: (\S+): .*: hold cleared, the kernel probed it$/.exec(line)?.[1] ?? [],
  );
  expect(said).toEqual(cleared);
  const last = fs.readFileSync(path.join(tree.root, "bus/pci/drivers_probe"), "utf8");
  expect(last).toBe(cleared.length === 0 ? "" : `${cleared[cleared.length - 1]}\n`);
  return cleared;
};
const kmsg = (): string[] => fs.readFileSync(path.join(root, "dev/kmsg"), "utf8").split("\n").filter(Boolean);

/** Runs `argv` in the chroot with initramfs-tools' or dracut's variables. */
function inRoot(argv: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const result = spawnSync(CHROOT, [root, ...argv], {
    encoding: "utf8",
    env: { PATH: "/bin", rootmnt: ROOTMNT, NEWROOT: ROOTMNT, ...env },
  });
  return { status: result.status, stderr: result.stderr };
}

/** Sources a dracut hook as dracut's hook runner does, and goes on after it. */
const sourced = (hook: string): string[] => ["/bin/sh", "-c", `. ${hook}; echo still-running`];

/** The machine of the stale-hold cases: 03 claimed now, 04 claimed by the image only. */
function staleMachine(): void {
  holdScriptAt(HOLD_SCRIPT, "[Claim]\nAddress=0000:00:03.0\n[Claim]\nAddress=0000:00:04.0\n");
  device("0000:00:03.0", { override: HOLD_OVERRIDE });
  device("0000:00:04.0", { override: HOLD_OVERRIDE });
  device("0000:00:05.0", { override: "vfio-pci" }); // the admin's own
  device("0000:00:06.0", { override: HOLD_OVERRIDE, driver: "vfio-pci" }); // bound: not held
}

const STALE = "held by an older initramfs, and no current claim selects it";

describe.each([
  ["initramfs-tools init-bottom", "initramfs-tools-init-bottom", (at: string) => ["/bin/sh", at]],
  ["dracut pre-pivot", "dracut-pre-pivot-hook.sh", sourced],
] as const)("%s", (_name, file, argv) => {
  it("lets go of what the real root's claims no longer select, and of nothing else", () => {
    staleMachine();
    holdScriptAt(path.join(ROOTMNT, HOLD_SCRIPT), "[Claim]\nAddress=0000:00:03.0\n");
    const run = inRoot(argv(bootFile(file)));
    expect(run).toMatchObject({ status: 0, stderr: "" });
    expect(overrideOf("0000:00:04.0")).toBe("\n");
    expect(released()).toEqual(["0000:00:04.0"]);
    expect(kmsg()).toEqual([`<5>vfio-autobind: 0000:00:04.0: ${STALE}: hold cleared, the kernel probed it`]);
    expect(overrideOf("0000:00:03.0")).toBe(`${HOLD_OVERRIDE}\n`);
    expect(overrideOf("0000:00:05.0")).toBe("vfio-pci\n");
    expect(overrideOf("0000:00:06.0")).toBe(`${HOLD_OVERRIDE}\n`);
  });

  it("with no hold script in the real root (the package removed), lets go of every hold", () => {
    staleMachine();
    const run = inRoot(argv(bootFile(file)));
    expect(run.status).toBe(0);
    expect(released()).toEqual(["0000:00:03.0", "0000:00:04.0"]);
    expect(overrideOf("0000:00:05.0")).toBe("vfio-pci\n");
    expect(kmsg()).toHaveLength(2);
  });

  it("does nothing where the image holds nothing", () => {
    device("0000:00:03.0", { override: HOLD_OVERRIDE });
    expect(inRoot(argv(bootFile(file))).status).toBe(0);
    expect(released()).toEqual([]);
    expect(overrideOf("0000:00:03.0")).toBe(`${HOLD_OVERRIDE}\n`);
  });
});

describe.each([
  ["initramfs-tools local-block", "initramfs-tools-local-block", (at: string) => ["/bin/sh", at, "/dev/vda"]],
  ["dracut initqueue/timeout", "dracut-timeout-hook.sh", sourced],
] as const)("%s", (_name, file, argv) => {
  it("lets go of held storage controllers only", () => {
    holdScriptAt(HOLD_SCRIPT, "[Claim]\nIds=1af4:1041\n");
    device("0000:00:02.0", { classCode: "010000", override: HOLD_OVERRIDE });
    device("0000:00:03.0", { classCode: "010802", override: HOLD_OVERRIDE });
    device("0000:00:04.0", { override: HOLD_OVERRIDE });
    const run = inRoot(argv(bootFile(file)));
    expect(run).toMatchObject({ status: 0, stderr: "" });
    expect(released()).toEqual(["0000:00:02.0", "0000:00:03.0"]);
    expect(overrideOf("0000:00:04.0")).toBe(`${HOLD_OVERRIDE}\n`);
    expect(kmsg()[0]).toContain("a storage controller held while the root device has not appeared");
  });
});

describe("dracut's hooks are sourced", () => {
  it("and return to the hook runner, with or without a script", () => {
    for (const file of ["dracut-timeout-hook.sh", "dracut-pre-pivot-hook.sh"]) {
      const at = bootFile(file);
      const result = spawnSync(CHROOT, [root, ...sourced(at)], { encoding: "utf8", env: { PATH: "/bin" } });
      expect(result.stdout, file).toBe("still-running\n");
    }
  });
});

describe("the sweep unit", () => {
  it("hands every device still held to the kernel, and leaves bound and foreign ones", () => {
    staleMachine();
    const unit = filledBootFile(layout.SWEEP_UNIT);
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
    expect(execStart).toBe(`/bin/sh ${HOLD_SCRIPT} release-all`);
    const run = inRoot((execStart as string).split(" "));
    expect(run.status).toBe(0);
    expect(released()).toEqual(["0000:00:03.0", "0000:00:04.0"]);
    expect(overrideOf("0000:00:05.0")).toBe("vfio-pci\n");
    expect(overrideOf("0000:00:06.0")).toBe(`${HOLD_OVERRIDE}\n`);
    expect(kmsg()[0]).toContain("still held, and nothing is left to bind it");
  });
});
