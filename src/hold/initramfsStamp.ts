/**
 * Which claims the initramfs of a kernel release holds: its hook (initramfs-tools or dracut)
 * records the config digest it built the hold script from, and the version of vfio-autobind
 * that wrote the script, in a stamp file (generatedPaths(configDir).initramfsStamp(release)).
 * apply, check and status compare it with the claims and the version now, so that the
 * initramfs holds never go stale silently, not even after an upgrade of vfio-autobind.
 * Nothing here rebuilds an image: the admin runs the command it names.
 */
import * as fs from "node:fs";
import { readKernelRelease } from "../rules/compileDecisions.js";
import { FileError, readOptionalRegularFile, writeFileAtomic } from "../files/safeFiles.js";
import { generatedPaths, initramfsImages, INITRAMFS_GENERATORS } from "../paths.js";
import * as path from "node:path";
import { VERSION } from "../version.js";

const DIGEST = /^[0-9a-f]{1,64}$/;
const STAMP_VERSION = /^[A-Za-z0-9.~+-]{1,64}$/;
const SMALL = { maxBytes: 256 };

/** Records that the initramfs of `release` holds the claims of `digest`, in this version's hold script. */
export function writeInitramfsStamp(configDir: string, release: string, digest: string): void {
  const version = STAMP_VERSION.test(VERSION) ? VERSION : "unknown";
  writeFileAtomic(generatedPaths(configDir).initramfsStamp(release), `${digest} ${version}\n`, {
    mode: 0o644,
    dirMode: 0o755,
  });
}

/** A stamp's digest and version; a stamp without a version was written before stamps had one. */
export function parseInitramfsStamp(text: string): { digest: string; version: string | null } | null {
  const [digest, version, ...rest] = text.trim().split(" ");
  if (digest === undefined || !DIGEST.test(digest) || rest.length > 0) return null;
  if (version === undefined) return { digest, version: null };
  return STAMP_VERSION.test(version) ? { digest, version } : null;
}

/** Forgets what the initramfs of `release` holds (its hook could not make a script). */
export function removeInitramfsStamp(configDir: string, release: string): void {
  const stamp = generatedPaths(configDir).initramfsStamp(release);
  fs.rmSync(stamp, { force: true });
}

/** The release of the running kernel, or null when it cannot be read (no /proc in a chroot). */
function runningRelease(procRoot: string): string | null {
  const release = readKernelRelease(procRoot);
  return typeof release === "string" ? release : null;
}

/** The generator installed under `toolsRoot` (the first found), or null. */
function installedGenerator(toolsRoot: string): (typeof INITRAMFS_GENERATORS)[number] | null {
  return (
    INITRAMFS_GENERATORS.find((generator) =>
      generator.files.some((file) => fs.existsSync(path.join(toolsRoot, file))),
    ) ?? null
  );
}

/** Whether the running kernel's initramfs image is there: without one, nothing holds at boot but the real root. */
function bootsWithInitramfs(toolsRoot: string, release: string): boolean {
  return initramfsImages(release).some((image) => fs.existsSync(path.join(toolsRoot, image)));
}

/**
 * One line when the initramfs of the running kernel holds other claims than the config's
 * (or none while claims exist), with the command that rebuilds it; null when it agrees,
 * when no initramfs generator is installed, when the running release cannot be read, or
 * when that release has no initramfs image (the machine boots without one).
 */
export function staleInitramfsReason(
  options: { configDir: string; procRoot: string; toolsRoot: string },
  config: { readonly digest: string; readonly claims: readonly unknown[] },
): string | null {
  const generator = installedGenerator(options.toolsRoot);
  if (generator === null) return null;
  const release = runningRelease(options.procRoot);
  if (release === null || !bootsWithInitramfs(options.toolsRoot, release)) return null;
  let text: string | null;
  try {
    text = readOptionalRegularFile(generatedPaths(options.configDir).initramfsStamp(release), SMALL);
  } catch (error) {
    if (!(error instanceof FileError)) throw error;
    text = null;
  }
  const stamp = text === null ? null : parseInitramfsStamp(text);
  if (stamp?.digest === config.digest && stamp.version === VERSION) return null;
  // Nothing claimed and nothing held: nothing to bring up to date.
  if (stamp === null && config.claims.length === 0) return null;
  const refresh = generator.refresh(release);
  if (stamp === null)
    return `the initramfs of ${release} holds no claimed device (built before the claims, or without vfio-autobind); run "${refresh}"`;
  if (stamp.digest !== config.digest)
    return `the initramfs of ${release} holds the devices of an older config than the claims now; run "${refresh}"`;
  return `the initramfs of ${release} holds the hold script of ${stamp.version === null ? "an older vfio-autobind" : `vfio-autobind ${stamp.version}`}, this is ${VERSION}; run "${refresh}"`;
}
