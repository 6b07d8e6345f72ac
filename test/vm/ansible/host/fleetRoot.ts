/**
 * The fleet suite's guest root: a Debian bookworm host as Ansible manages one. systemd,
 * udev and Debian's Node (what the package needs, so its install needs no network), the
 * SSH server and Python that Ansible reaches it through, python3-apt for Ansible's apt
 * module, and the kernel's modules. No fixture drivers and no vfio-autobind: the role
 * installs the package. Its own cache entry, so the VM suite's shared root is untouched.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CACHE_DIR, requireDefaultRelease } from "../../host/paths.js";
import { cachedDirectory, hashInputs, pruneSiblings } from "../../host/cache.js";
import { run, say } from "../../host/command.js";
import { packCpio } from "../../host/cpioArchive.js";
import { bootstrapRoot, DPKG_OPTIONS } from "../../host/guestRoot.js";
import type { KernelTree } from "../../host/kernelPackages.js";
import { GUEST_MAC } from "./fleetMachine.js";

const PACKAGES = ["systemd-sysv", "udev", "kmod", "nodejs", "openssh-server", "python3", "python3-apt"];

export interface FleetRoot {
  /** The unpacked root: read-only, the image-build scenario mounts it as a lower layer. */
  readonly dir: string;
  readonly cpio: string;
}

export async function buildFleetRoot(kernel: KernelTree): Promise<FleetRoot> {
  // The recipe and its cache key are bookworm's, and so is the kernel the fleet tests boot.
  requireDefaultRelease("the fleet suite");
  const key = hashInputs(
    kernel.release,
    JSON.stringify({ PACKAGES, DPKG_OPTIONS, GUEST_MAC }),
    bootstrapRoot.toString(),
    __filename,
  );
  const parent = path.join(CACHE_DIR, "fleet-root");
  const dir = path.join(parent, `${kernel.release}-${key}`);
  const cached = await cachedDirectory(dir, async (work) => {
    const root = path.join(work, "root");
    await bootstrapRoot(root, PACKAGES);
    // Under usr/lib: lib is a symlink to it in a merged-/usr root (qemu-notes.md).
    const modules = path.join(root, "usr", "lib", "modules", kernel.release);
    fs.cpSync(kernel.modulesDir, modules, { recursive: true, verbatimSymlinks: true });
    for (const link of ["build", "source"]) fs.rmSync(path.join(modules, link), { force: true });
    await run("depmod", ["-b", root, kernel.release]);
    configureGuest(root);
    await run("chroot", [root, "systemctl", "enable", "systemd-networkd.service"]);
    await packCpio(root, path.join(work, "root.cpio"));
  });
  pruneSiblings(parent, path.basename(dir));
  say(`fleet guest root ${path.basename(dir)}${cached ? " (cached)" : ""}`);
  return { dir: path.join(dir, "root"), cpio: path.join(dir, "root.cpio") };
}

/** A console that stays writable, a name, and user-mode networking's fixed address for the NIC. */
function configureGuest(root: string): void {
  fs.symlinkSync("/dev/null", path.join(root, "etc/systemd/system/serial-getty@ttyS0.service"));
  fs.writeFileSync(path.join(root, "etc/hostname"), "vfio-autobind-fleet\n");
  fs.writeFileSync(
    path.join(root, "etc/systemd/network/10-fleet.network"),
    `[Match]\nMACAddress=${GUEST_MAC}\n\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\n`,
  );
}
