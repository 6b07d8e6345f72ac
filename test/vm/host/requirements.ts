/** What the host needs, checked first so that a missing tool is named with its apt package. */
import { execa } from "execa";
import { RELEASE } from "./paths.js";

const TOOLS: ReadonlyArray<readonly [command: string, aptPackage: string]> = [
  ["qemu-system-x86_64", "qemu-system-x86"],
  ["mmdebstrap", "mmdebstrap"],
  ["cpio", "cpio"],
  ["depmod", "kmod"],
  ["apt-get", "apt"],
  ["dpkg-deb", "dpkg"],
  // bookworm's fixtures build on the host; another release's in its own chroot (releaseKernel.ts).
  ...(RELEASE.hostApt
    ? ([
        ["make", "make"],
        ["gcc-12", "gcc-12"],
      ] as const)
    : ([["unshare", "util-linux"]] as const)),
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
