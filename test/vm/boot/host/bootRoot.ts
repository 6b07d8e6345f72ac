/**
 * A guest root booted the Debian way, cached: mmdebstrap (the release under test) with the flavour's
 * initramfs generator, then Debian's cloud kernel installed as a package with `dpkg -i`
 * in a chroot, so its postinst runs the guest's own initramfs generator, and the fixture
 * variant drivers under updates/ with depmod. Nothing of the host is mounted into the
 * chroot (no /proc, /sys or /dev): an image build sees no device, and the host's /sys is
 * never reachable (through /proc/1/root either). The tool goes in per run (bootImage.ts).
 */
import { bootstrapRoot, DPKG_OPTIONS } from "../../host/guestRoot.js";
import * as fs from "node:fs";
import * as path from "node:path";
import { cachedDirectory, hashInputs, pruneSiblings } from "../../host/cache.js";
import { run, say } from "../../host/command.js";
import type { FixtureModules } from "../../host/fixtureModules.js";
import type { KernelTree } from "../../host/kernelPackages.js";
import { CACHE_DIR } from "../../host/paths.js";
import type { RootFlavour } from "../shared/bootMachine.js";

/** linux-base: the kernel package's dependency; e2fsprogs: fsck for the root; zstd: the initramfs' compressor. */
const COMMON_PACKAGES = ["systemd-sysv", "udev", "kmod", "nodejs", "pciutils", "linux-base", "e2fsprogs", "zstd"];

/** driverctl: Debian's, the tool the comparison images time ours against; with no override file it does nothing. */
const FLAVOUR_PACKAGES: Readonly<Record<RootFlavour, readonly string[]>> = {
  "initramfs-tools": ["initramfs-tools", "driverctl"],
  dracut: ["dracut"],
};

/**
 * The generator's settings, written before the kernel is installed so its postinst uses
 * them: initramfs-tools as Debian ships it (MODULES=most, said explicitly), dracut in a
 * generic (not host-only) build, as an image build must be.
 */
const GENERATOR_CONFIG: Readonly<Record<RootFlavour, readonly [file: string, text: string]>> = {
  "initramfs-tools": ["etc/initramfs-tools/conf.d/vmboot.conf", "MODULES=most\n"],
  dracut: ["etc/dracut.conf.d/50-vmboot.conf", 'hostonly="no"\n'],
};

/** Where a root's files are, for the chroot steps and for mkfs.ext4 -d. */
export interface BootRoot {
  readonly flavour: RootFlavour;
  readonly dir: string;
}

/** Runs a command in the root's chroot, with nothing mounted and a plain environment. */
export function inChroot(root: string, argv: readonly string[]): Promise<string> {
  return run("chroot", [root, ...argv], {
    env: { DEBIAN_FRONTEND: "noninteractive", PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" },
    extendEnv: false,
  });
}

export async function buildBootRoot(
  flavour: RootFlavour,
  kernel: KernelTree,
  fixtures: FixtureModules,
): Promise<BootRoot> {
  const recipe = JSON.stringify({ COMMON_PACKAGES, FLAVOUR_PACKAGES, DPKG_OPTIONS, GENERATOR_CONFIG, flavour });
  const key = hashInputs(kernel.release, fixtures.hash, recipe, bootstrapRoot.toString(), __filename);
  const parent = path.join(CACHE_DIR, "boot-root", flavour);
  const dir = path.join(parent, `${kernel.release}-${key}`);
  const cached = await cachedDirectory(dir, async (work) => {
    const root = path.join(work, "root");
    await bootstrapRoot(root, [...COMMON_PACKAGES, ...FLAVOUR_PACKAGES[flavour]]);
    const [configFile, configText] = GENERATOR_CONFIG[flavour];
    fs.mkdirSync(path.dirname(path.join(root, configFile)), { recursive: true });
    fs.writeFileSync(path.join(root, configFile), configText);
    await installKernelPackage(root, kernel);
    // Fixtures in updates/, where depmod ranks them above the kernel's own modules.
    const updates = path.join(root, "usr", "lib", "modules", kernel.release, "updates");
    fs.mkdirSync(updates, { recursive: true });
    for (const ko of fixtures.files) fs.copyFileSync(ko, path.join(updates, path.basename(ko)));
    await inChroot(root, ["depmod", kernel.release]);
    // getty's vhangup() on the console would turn later writes to ttyS0 into EIO (qemu-notes.md).
    fs.symlinkSync("/dev/null", path.join(root, "etc/systemd/system/serial-getty@ttyS0.service"));
    fs.writeFileSync(path.join(root, "etc/hostname"), "vfio-autobind-vmboot\n");
    fs.writeFileSync(path.join(root, "etc/fstab"), "/dev/vda / ext4 defaults 0 1\n");
  });
  pruneSiblings(parent, path.basename(dir));
  say(`boot root ${flavour} ${path.basename(dir)}${cached ? " (cached)" : ""}`);
  return { flavour, dir: path.join(dir, "root") };
}

/**
 * The kernel as a package: its postinst runs the root's own initramfs generator. Testing
 * splits the kernel, its modules and its base files into packages of their own, downloaded
 * beside the image (releaseKernel.ts): dpkg installs them together.
 */
async function installKernelPackage(root: string, kernel: KernelTree): Promise<void> {
  const debs = kernel.debsDir;
  const packages = fs.readdirSync(debs).filter((f) => /^linux-(image|binary|modules|base)-.*\.deb$/.test(f));
  if (!packages.some((f) => f.startsWith(`linux-image-${kernel.release}_`)))
    throw new Error(`no linux-image-${kernel.release} package in ${debs}`);
  for (const deb of packages) fs.copyFileSync(path.join(debs, deb), path.join(root, "tmp", deb));
  await inChroot(root, ["dpkg", "-i", ...packages.map((deb) => `/tmp/${deb}`)]);
  for (const deb of packages) fs.rmSync(path.join(root, "tmp", deb));
  if (!fs.existsSync(path.join(root, "boot", `initrd.img-${kernel.release}`)))
    throw new Error(`the kernel's postinst made no /boot/initrd.img-${kernel.release}`);
}
