/**
 * The kernel of a release the host's apt does not know (shared/releases.ts): everything
 * comes from a chroot of that release, built with mmdebstrap, so the host's apt
 * configuration is never touched. The chroot holds the release's compiler and the kernel's
 * headers (the fixture modules are built in it, fixtureModules.ts); the image package is
 * downloaded in it and unpacked beside it with `dpkg-deb -x`, so no initramfs is built.
 *
 * The chroot is cached by release and recipe: the kernel stays the one the release had when
 * it was built. Delete `kernel/` in the release's cache directory to move to a newer one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CACHE_DIR, KERNEL_FLAVOUR, RELEASE } from "./paths.js";
import { cachedDirectory, hashInputs, pruneSiblings } from "./cache.js";
import { run, say } from "./command.js";
import type { KernelTree } from "./kernelPackages.js";

/** gcc is the release's default; the headers pull in the compiler the kernel was built with. */
const BUILD_PACKAGES = ["make", "gcc", `linux-headers-${KERNEL_FLAVOUR}`];

/** Where the chroot keeps the downloaded image package. */
const DEBS_IN_CHROOT = "kernel-debs";

/**
 * The hook finds the release (the one flavour of headers installed) and downloads its
 * image package with every package of that release it depends on, directly or not: testing
 * splits the kernel, its modules and its base files (modules.builtin, System.map) out into
 * linux-binary-*, linux-modules-* and linux-base-*, as a host installing the image gets them.
 */
const DOWNLOAD_IMAGE = [
  `mkdir -p "$1/${DEBS_IN_CHROOT}"`,
  `chroot "$1" sh -c 'cd /${DEBS_IN_CHROOT} && ` +
    `release=$(ls /usr/src | sed -n "s/^linux-headers-\\(.*-${KERNEL_FLAVOUR}\\)$/\\1/p") && ` +
    `parts=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "linux-image-$release" | ` +
    `sed -n "s/^ *Depends: \\(linux-[a-z]*-$release\\)$/\\1/p" | sort -u) && ` +
    `apt-get download -q -o APT::Sandbox::User=root "linux-image-$release" $parts'`,
].join(" && ");

export function releaseAptOptions(): string[] {
  return RELEASE.ignoreValidUntil ? ['--aptopt=Acquire::Check-Valid-Until "false"'] : [];
}

export async function releaseKernelTree(): Promise<KernelTree> {
  const key = hashInputs(RELEASE.name, JSON.stringify({ BUILD_PACKAGES, DOWNLOAD_IMAGE }));
  const parent = path.join(CACHE_DIR, "kernel");
  const dir = path.join(parent, `${RELEASE.name}-${key}`);
  const cached = await cachedDirectory(dir, async (work) => {
    const root = path.join(work, "build-root");
    await run("mmdebstrap", [
      "--mode=root",
      "--variant=apt",
      // As for the guest root: no host /dev, /proc or /sys in the chroot.
      "--skip=chroot/mount",
      ...releaseAptOptions(),
      `--include=${BUILD_PACKAGES.join(",")}`,
      `--customize-hook=${DOWNLOAD_IMAGE}`,
      RELEASE.name,
      root,
    ]);
    const debs = fs.readdirSync(path.join(root, DEBS_IN_CHROOT));
    if (debs.length === 0) throw new Error(`no kernel image package was downloaded in the ${RELEASE.name} chroot`);
    for (const deb of debs)
      await run("dpkg-deb", ["-x", path.join(root, DEBS_IN_CHROOT, deb), path.join(work, "tree")]);
  });
  pruneSiblings(parent, path.basename(dir));
  const buildRoot = path.join(dir, "build-root");
  const release = installedHeaders(buildRoot);
  say(`kernel ${release} (${RELEASE.name})${cached ? " (cached)" : ""}`);
  const tree = path.join(dir, "tree");
  // Newer kernel packages ship their modules under usr/lib already.
  const modulesDir = ["lib", "usr/lib"].map((lib) => path.join(tree, lib, "modules", release)).find(fs.existsSync);
  if (modulesDir === undefined) throw new Error(`the ${release} image package in ${tree} holds no modules directory`);
  const image = kernelImageIn(tree, release);
  if (image === undefined) throw new Error(`the ${release} kernel packages in ${tree} hold no vmlinuz`);
  const vmlinuz = path.join(tree, image);
  return {
    release,
    vmlinuz,
    modulesDir,
    headersDir: `/usr/src/linux-headers-${release}`,
    debsDir: path.join(buildRoot, DEBS_IN_CHROOT),
    buildRoot,
  };
}

function installedHeaders(buildRoot: string): string {
  const flavour = new RegExp(`^linux-headers-(.*-${KERNEL_FLAVOUR})$`);
  const found = fs
    .readdirSync(path.join(buildRoot, "usr", "src"))
    .map((name) => flavour.exec(name)?.[1])
    .filter((release) => release !== undefined);
  if (found.length !== 1)
    throw new Error(`expected one ${KERNEL_FLAVOUR} header tree in ${buildRoot}/usr/src, found ${found.length}`);
  return found[0] as string;
}

/**
 * Where in a root the kernel image of `release` is, relative to it: /boot, or beside the
 * modules, where testing's kernel package puts it when nothing copies it to /boot.
 */
export function kernelImageIn(root: string, release: string): string | undefined {
  return [`boot/vmlinuz-${release}`, `usr/lib/modules/${release}/vmlinuz`, `lib/modules/${release}/vmlinuz`].find(
    (file) => fs.existsSync(path.join(root, file)),
  );
}
