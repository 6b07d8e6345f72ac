/** Where the VM suite reads its sources and keeps its cache, and which Debian release it runs. */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_RELEASE, releaseNamed } from "../shared/releases.js";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
export const VM_DIR = path.resolve(__dirname, "..");
export const FIXTURES_DIR = path.join(VM_DIR, "fixtures");

/** The guest's Debian release: VFIO_AUTOBIND_RELEASE, bookworm by default (shared/releases.ts). */
export const RELEASE = releaseNamed(process.env.VFIO_AUTOBIND_RELEASE);

/** For a suite whose roots are the default release's only: another release is a one-line error. */
export function requireDefaultRelease(suite: string): void {
  if (RELEASE.name !== DEFAULT_RELEASE)
    throw new Error(`VFIO_AUTOBIND_RELEASE=${RELEASE.name}: ${suite} runs on ${DEFAULT_RELEASE} only so far`);
}

const CACHE_ROOT = process.env.VFIO_AUTOBIND_VM_CACHE ?? "/var/tmp/vfio-autobind-vm";

/** The version the packaged tool in the guest has (build.mjs stamps package.json's into the bundle). */
export const PACKAGE_VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
).version;

/**
 * Everything downloaded or built, keyed by kernel release and by a hash of what went into
 * it, so that a rerun rebuilds only what changed. Deleting the directory is always safe.
 * Each release other than the default (bookworm) has a directory of its own inside it, so that runs on
 * different releases never prune each other's builds.
 */
export const CACHE_DIR = RELEASE.name === DEFAULT_RELEASE ? CACHE_ROOT : path.join(CACHE_ROOT, RELEASE.name);

/** The kernel flavour: Debian's smallest amd64 kernel that still has VFIO and the Intel IOMMU. */
export const KERNEL_FLAVOUR = "cloud-amd64";
