/**
 * The guest's base root: the release under test (bookworm unless VFIO_AUTOBIND_RELEASE
 * names another) from mmdebstrap with systemd as PID 1, udev, kmod and the release's own
 * nodejs, the kernel's modules and the fixture modules with the release's depmod run,
 * packed as a cpio archive that boots as the initramfs. It depends only on the
 * kernel, the fixtures and this recipe, so it is built once and reused; the tool and the
 * test harness go into a small overlay archive every run (guestOverlay.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CACHE_DIR, RELEASE } from "./paths.js";
import { releaseAptOptions } from "./releaseKernel.js";
import { cachedDirectory, hashInputs, pruneSiblings } from "./cache.js";
import { run, say } from "./command.js";
import { packCpio } from "./cpioArchive.js";
import type { FixtureModules } from "./fixtureModules.js";
import type { KernelTree } from "./kernelPackages.js";

/**
 * systemd-sysv: systemd as PID 1. pciutils: lspci and pci.ids, for `list` names and for
 * people debugging. driverctl: Debian's, the tool the comparison boots time ours against
 * (host/driverctlBoots.ts); with no /etc/driverctl.d files it does nothing. dbus: the
 * system bus, as on any real server; `systemd-run --wait`, one of that comparison's floors,
 * cannot work without it (--wait talks to systemd through the bus, not its private socket).
 * passwd: useradd and groupadd for the ownership scenarios (no longer essential after bookworm).
 */
const PACKAGES = ["systemd-sysv", "udev", "kmod", "nodejs", "pciutils", "driverctl", "dbus", "passwd"];

/** The release's libvirt with its QEMU driver and an x86 QEMU to run, for the beside-libvirt scenario. */
const LIBVIRT_PACKAGES = ["libvirt-daemon-system", "libvirt-daemon-driver-qemu", "qemu-system-x86"];

/** Documentation and translations are a third of the root and nobody reads them in the guest. */
export const DPKG_OPTIONS = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/locale/*",
  "path-exclude=/usr/share/info/*",
];

export interface GuestRoot {
  /** The unpacked root (read-only from here on: the overlay builder mounts it as a lower layer). */
  readonly dir: string;
  readonly cpio: string;
}

export async function buildGuestRoot(kernel: KernelTree, fixtures: FixtureModules): Promise<GuestRoot> {
  // This file is part of the key: a change to the recipe rebuilds the root.
  const key = hashInputs(
    kernel.release,
    fixtures.hash,
    JSON.stringify({ PACKAGES, LIBVIRT_PACKAGES, DPKG_OPTIONS, release: RELEASE.name, libvirt: RELEASE.libvirt }),
    __filename,
  );
  const parent = path.join(CACHE_DIR, "base");
  const dir = path.join(parent, `${kernel.release}-${key}`);
  const cached = await cachedDirectory(dir, async (work) => {
    const root = path.join(work, "root");
    await bootstrapRoot(root, RELEASE.libvirt ? [...PACKAGES, ...LIBVIRT_PACKAGES] : PACKAGES);
    installKernelModules(root, kernel, fixtures);
    // The release's own depmod: newer kernels compress their modules.
    await run("chroot", [root, "depmod", kernel.release]);
    configureSystemd(root);
    if (RELEASE.libvirt) startLibvirtOnDemand(root);
    await packCpio(root, path.join(work, "root.cpio"));
  });
  pruneSiblings(parent, path.basename(dir));
  say(`guest root ${path.basename(dir)}${cached ? " (cached)" : ""}`);
  return { dir: path.join(dir, "root"), cpio: path.join(dir, "root.cpio") };
}

/** A root of the release under test with these packages, by the archive's apt, never touching the host's devices. */
export async function bootstrapRoot(root: string, packages: readonly string[]): Promise<void> {
  await run("mmdebstrap", [
    "--mode=root",
    "--variant=apt",
    // Never mount the host's /dev, /proc or /sys into the chroot: no maintainer script may
    // reach the host's real devices. Everything installs without them.
    "--skip=chroot/mount",
    `--include=${packages.join(",")}`,
    ...DPKG_OPTIONS.map((option) => `--dpkgopt=${option}`),
    ...releaseAptOptions(),
    RELEASE.name,
    root,
  ]);
}

/**
 * Modules go under usr/lib/modules: in a merged-/usr root, lib is a symlink to usr/lib,
 * and unpacking a kernel package's lib/modules over it would replace the symlink with a
 * real directory and lose /lib/systemd/systemd (qemu-notes.md). Fixtures go in updates/,
 * where depmod ranks them above the kernel's own modules, as an admin's would be.
 */
function installKernelModules(root: string, kernel: KernelTree, fixtures: FixtureModules): void {
  const modules = path.join(root, "usr", "lib", "modules", kernel.release);
  fs.cpSync(kernel.modulesDir, modules, { recursive: true, verbatimSymlinks: true });
  for (const link of ["build", "source"]) fs.rmSync(path.join(modules, link), { force: true });
  fs.mkdirSync(path.join(modules, "updates"), { recursive: true });
  for (const ko of fixtures.files) fs.copyFileSync(ko, path.join(modules, "updates", path.basename(ko)));
}

function configureSystemd(root: string): void {
  const system = path.join(root, "etc", "systemd", "system");
  // getty's vhangup() on the console would turn later writes to ttyS0 into EIO (qemu-notes.md).
  fs.symlinkSync("/dev/null", path.join(system, "serial-getty@ttyS0.service"));
  fs.writeFileSync(path.join(root, "etc", "hostname"), "vfio-autobind-vmtest\n");
}

/**
 * libvirtd and virtlogd start when virsh first connects (their sockets stay enabled), not
 * at boot: their start probes QEMU, which under TCG would take CPU from every scenario and
 * from the timed comparison boots. libvirt-guests has no guests to resume.
 */
function startLibvirtOnDemand(root: string): void {
  const wants = path.join(root, "etc", "systemd", "system", "multi-user.target.wants");
  for (const unit of ["libvirtd.service", "virtlogd.service", "libvirt-guests.service"])
    fs.rmSync(path.join(wants, unit), { force: true });
}
