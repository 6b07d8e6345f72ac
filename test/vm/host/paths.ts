/** Where the VM suite reads its sources and keeps its cache. */
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
export const VM_DIR = path.resolve(__dirname, "..");
export const FIXTURES_DIR = path.join(VM_DIR, "fixtures");

/** The version the packaged tool in the guest has (build.mjs stamps package.json's into the bundle). */
export const PACKAGE_VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
).version;

/**
 * Everything downloaded or built, keyed by kernel release and by a hash of what went into
 * it, so that a rerun rebuilds only what changed. Deleting the directory is always safe.
 */
export const CACHE_DIR = process.env.VFIO_AUTOBIND_VM_CACHE ?? "/var/tmp/vfio-autobind-vm";

/** The kernel flavour: Debian's smallest amd64 kernel that still has VFIO and the Intel IOMMU. */
export const KERNEL_FLAVOUR = "cloud-amd64";
