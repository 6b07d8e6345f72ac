/** Where the VM suite reads its sources and keeps its cache. */
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
export const VM_DIR = path.resolve(__dirname, "..");
export const FIXTURES_DIR = path.join(VM_DIR, "fixtures");

/**
 * Everything downloaded or built, keyed by kernel release and by a hash of what went into
 * it, so that a rerun rebuilds only what changed. Deleting the directory is always safe.
 */
export const CACHE_DIR = process.env.VFIO_AUTOBIND_VM_CACHE ?? "/var/tmp/vfio-autobind-vm";

/** The kernel flavour: Debian's smallest amd64 kernel that still has VFIO and the Intel IOMMU. */
export const KERNEL_FLAVOUR = "cloud-amd64";
