/** What the host needs, checked first so that a missing tool is named with its apt package. */
import { execa } from "execa";

const TOOLS: ReadonlyArray<readonly [command: string, aptPackage: string]> = [
  ["qemu-system-x86_64", "qemu-system-x86"],
  ["mmdebstrap", "mmdebstrap"],
  ["cpio", "cpio"],
  ["make", "make"],
  ["gcc-12", "gcc-12"],
  ["depmod", "kmod"],
  ["apt-get", "apt"],
  ["dpkg-deb", "dpkg"],
];

/** `extra`: what another suite needs beyond this one's tools (the boot suite's e2fsprogs). */
export async function checkHostRequirements(
  extra: ReadonlyArray<readonly [command: string, aptPackage: string]> = [],
): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error("the VM suite must run as root (mmdebstrap --mode=root, chroot, mount)");
  const missing: string[] = [];
  for (const [command, aptPackage] of [...TOOLS, ...extra]) {
    const found = await execa("sh", ["-c", 'command -v "$1"', "sh", command], { reject: false });
    if (found.exitCode !== 0) missing.push(aptPackage);
  }
  if (missing.length > 0)
    throw new Error(`the VM suite needs: apt-get install --no-install-recommends ${missing.join(" ")}`);
}
