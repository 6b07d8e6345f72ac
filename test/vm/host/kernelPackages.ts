/**
 * Debian's cloud kernel for the guest and its headers for building the fixture modules:
 * downloaded with `apt-get download` and unpacked with `dpkg-deb -x` into the cache, so
 * nothing is installed on the host.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CACHE_DIR, KERNEL_FLAVOUR, RELEASE } from "./paths.js";
import { cachedDirectory, pruneSiblings } from "./cache.js";
import { phase, run, say } from "./command.js";
import { releaseKernelTree } from "./releaseKernel.js";

export interface KernelTree {
  /** `uname -r` in the guest, e.g. 6.1.0-56-cloud-amd64. */
  readonly release: string;
  readonly vmlinuz: string;
  /** lib/modules/<release> of the image package. */
  readonly modulesDir: string;
  /** The flavour's header directory, for `make -C`. */
  readonly headersDir: string;
  /** The downloaded packages themselves: the boot suite installs the image with `dpkg -i`. */
  readonly debsDir: string;
  /**
   * A chroot of the release with the headers (at `headersDir`) and the compiler, where the
   * fixture modules are built; absent for bookworm, whose headers build on the host.
   */
  readonly buildRoot?: string;
}

/** The kernel of the release under test (VFIO_AUTOBIND_RELEASE), timed as the run's phases. */
export async function guestKernel(): Promise<KernelTree> {
  if (!RELEASE.hostApt) return phase("kernel packages", releaseKernelTree);
  const release = await phase("kernel release", resolveKernelRelease);
  return phase("kernel packages", () => kernelTree(release));
}

/**
 * The release the metapackage points at today: old point releases leave the archive, so
 * it is never pinned.
 */
export async function resolveKernelRelease(): Promise<string> {
  const metapackage = `linux-image-${KERNEL_FLAVOUR}`;
  const find = async (): Promise<string | undefined> => {
    const out = await run("apt-cache", ["depends", metapackage]).catch(() => "");
    return new RegExp(`Depends: linux-image-(\\S+-${KERNEL_FLAVOUR})$`, "m").exec(out)?.[1];
  };
  let release = await find();
  if (release === undefined) {
    say("apt-cache knows no kernel yet: running apt-get update");
    await run("apt-get", ["update", "-qq"]);
    release = await find();
  }
  if (release === undefined) throw new Error(`apt-cache depends ${metapackage} names no linux-image package`);
  return release;
}

/** The image, the flavour's headers and what they depend on (common headers, kbuild tools). */
async function packageNames(release: string): Promise<string[]> {
  const headers = `linux-headers-${release}`;
  const out = await run("apt-cache", ["depends", headers]);
  const dependencies = [...out.matchAll(/Depends: (linux-(?:headers|kbuild)-\S+)$/gm)].map((m) => m[1] as string);
  return [`linux-image-${release}`, headers, ...dependencies];
}

export async function kernelTree(release: string): Promise<KernelTree> {
  const dir = path.join(CACHE_DIR, "kernel", release);
  const cached = await cachedDirectory(dir, async (work) => {
    const debs = path.join(work, "debs");
    fs.mkdirSync(debs);
    // _apt cannot write into root's cache directory; the download is checked by apt all the same.
    await run("apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", ...(await packageNames(release))], {
      cwd: debs,
    });
    for (const deb of fs.readdirSync(debs))
      await run("dpkg-deb", ["-x", path.join(debs, deb), path.join(work, "tree")]);
    pointHeadersAtTree(path.join(work, "tree"), path.join(dir, "tree"), release);
  });
  pruneSiblings(path.dirname(dir), release);
  say(`kernel ${release}${cached ? " (cached)" : ""}`);
  const tree = path.join(dir, "tree");
  return {
    release,
    vmlinuz: path.join(tree, "boot", `vmlinuz-${release}`),
    modulesDir: path.join(tree, "lib", "modules", release),
    headersDir: path.join(tree, "usr", "src", `linux-headers-${release}`),
    debsDir: path.join(dir, "debs"),
  };
}

/**
 * The flavour's Makefile includes the common headers by absolute path (/usr/src/...);
 * point it at the unpacked copy, where it will be once the cache entry is renamed into
 * place. Its other links are relative and already work.
 */
function pointHeadersAtTree(unpacked: string, finalTree: string, release: string): void {
  const makefile = path.join(unpacked, "usr", "src", `linux-headers-${release}`, "Makefile");
  const text = fs.readFileSync(makefile, "utf8");
  fs.writeFileSync(makefile, text.replace(/(^include\s+)\/usr\/src\//m, `$1${finalTree}/usr/src/`));
}
