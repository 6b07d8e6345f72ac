/**
 * What the host itself is using below a PCI device: mounted or swapped-on block devices,
 * block devices held by md/dm/LVM, and network interfaces that are up. Handing such a device
 * to VFIO pulls the disk or link out from under the running system.
 *
 * The parsers and `hostUsesOf` are pure; `findClassDevices` and `findHostUses` only read
 * files. Missing information never throws: a /proc file that cannot be read means that
 * check has nothing to say, and an unreadable sysfs entry is skipped.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isSysfsPciName } from "./pciAddress.js";

export type HostUseKind = "mounted" | "swap" | "holder" | "net-up";

export interface HostUse {
  readonly kind: HostUseKind;
  /** Kernel name of the block device or network interface: `nvme0n1p1`, `eth2`. */
  readonly name: string;
  /** One short phrase an admin reads, e.g. "nvme0n1p1 is mounted on /boot", "eth2 is up". */
  readonly reason: string;
}

/** A block device or network interface found below the PCI device. */
export type ClassDevice =
  | {
      readonly kind: "block";
      readonly name: string;
      /** `major:minor` from the `dev` file; null when missing or unreadable. */
      readonly majorMinor: string | null;
      /** Entries of `holders/` (dm-0, md127), sorted. */
      readonly holders: readonly string[];
    }
  | {
      readonly kind: "net";
      readonly name: string;
      /** The `flags` value; null when missing or unreadable. */
      readonly flags: number | null;
    };

export interface MountEntry {
  /** Field 3 of mountinfo: the st_dev of the filesystem, `259:1`. */
  readonly majorMinor: string;
  /** Decoded mount point: `\040` is back to a space. */
  readonly mountPoint: string;
  /** Decoded mount source (after the ` - ` separator and the fs type): `/dev/nvme0n1p1`. */
  readonly source: string;
}

/** Interface is administratively up (include/uapi/linux/if.h). */
export const IFF_UP = 0x1;

/**
 * Deep enough for USB mass storage behind a hub, the deepest common layout:
 * usb1/1-1/1-1.2/1-1.2:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1 is 10 levels.
 * NVMe partitions sit at 4, SATA partitions at 7.
 */
export const MAX_WALK_DEPTH = 12;

const KIND_ORDER: readonly HostUseKind[] = ["mounted", "swap", "holder", "net-up"];

/** Undoes the kernel's `\ooo` octal escapes (space, tab, newline, backslash) in /proc text. */
export function decodeOctalEscapes(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * Parses /proc/self/mountinfo:
 * `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
 * The optional fields vary in number, so the source is found after the lone `-`.
 * Lines that do not have this shape are skipped.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    const majorMinor = fields[2];
    const mountPoint = fields[4];
    const source = separator === -1 ? undefined : fields[separator + 2];
    if (majorMinor === undefined || mountPoint === undefined || source === undefined) continue;
    if (!/^\d+:\d+$/.test(majorMinor)) continue;
    entries.push({ majorMinor, mountPoint: decodeOctalEscapes(mountPoint), source: decodeOctalEscapes(source) });
  }
  return entries;
}

/**
 * Parses /proc/swaps into the decoded Filename column. The header line starts with
 * `Filename`; the name itself is escaped, so whitespace splits the columns safely.
 */
export function parseSwaps(text: string): string[] {
  const filenames: string[] = [];
  for (const line of text.split("\n")) {
    const filename = line.trim().split(/\s+/)[0];
    if (filename === undefined || filename === "" || filename === "Filename") continue;
    filenames.push(decodeOctalEscapes(filename));
  }
  return filenames;
}

/** Parses a net interface `flags` file (`0x1003`); null when it holds anything else. */
export function parseInterfaceFlags(text: string): number | null {
  const m = /^0x([0-9a-fA-F]+)$/.exec(text.trim());
  return m === null ? null : Number.parseInt(m[1] as string, 16);
}

export function isInterfaceUp(flags: number): boolean {
  return (flags & IFF_UP) !== 0;
}

/** Turns what was found under the device, and what /proc says, into host uses, sorted. */
export function hostUsesOf(
  devices: readonly ClassDevice[],
  mounts: readonly MountEntry[],
  swapFilenames: readonly string[],
): HostUse[] {
  const uses: HostUse[] = [];
  for (const device of devices) {
    const { name } = device;
    if (device.kind === "net") {
      if (device.flags !== null && isInterfaceUp(device.flags))
        uses.push({ kind: "net-up", name, reason: `${name} is up` });
      continue;
    }
    const devNode = `/dev/${name}`;
    // btrfs reports an anonymous 0:N in mountinfo, so the source names its disk instead.
    const mountPoints = mounts
      .filter((mount) => mount.majorMinor === device.majorMinor || mount.source === devNode)
      .map((mount) => mount.mountPoint);
    const distinctMountPoints = [...new Set(mountPoints)];
    if (distinctMountPoints.length > 0) {
      uses.push({ kind: "mounted", name, reason: `${name} is mounted on ${distinctMountPoints.join(", ")}` });
    }
    if (swapFilenames.includes(devNode)) uses.push({ kind: "swap", name, reason: `${name} is in use as swap` });
    if (device.holders.length > 0) {
      uses.push({ kind: "holder", name, reason: `${name} is held by ${device.holders.join(", ")}` });
    }
  }
  return uses.sort(
    (a, b) =>
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind),
  );
}

function readOptionalText(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function subsystemOf(dir: string): string | null {
  try {
    return path.basename(fs.readlinkSync(path.join(dir, "subsystem")));
  } catch {
    return null;
  }
}

function listNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readClassDevice(dir: string): ClassDevice | null {
  const name = path.basename(dir);
  switch (subsystemOf(dir)) {
    case "block": {
      const dev = readOptionalText(path.join(dir, "dev"))?.trim() ?? null;
      const majorMinor = dev !== null && /^\d+:\d+$/.test(dev) ? dev : null;
      return { kind: "block", name, majorMinor, holders: listNames(path.join(dir, "holders")) };
    }
    case "net": {
      const text = readOptionalText(path.join(dir, "flags"));
      return { kind: "net", name, flags: text === null ? null : parseInterfaceFlags(text) };
    }
    default:
      return null;
  }
}

/**
 * Block devices and net interfaces below `deviceDir` (the resolved devices/... directory),
 * in walk order. Symlinks are never followed (sysfs links point back up and across the
 * tree), and nested PCI devices are left out: they are devices of their own.
 */
export function findClassDevices(deviceDir: string): ClassDevice[] {
  const found: ClassDevice[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > MAX_WALK_DEPTH) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      // A Dirent of a symlink is not a directory, so links are not followed.
      if (!entry.isDirectory() || isSysfsPciName(entry.name)) continue;
      const child = path.join(dir, entry.name);
      const device = readClassDevice(child);
      if (device !== null) found.push(device);
      // Partitions live inside their disk's directory, so block devices are walked too.
      walk(child, depth + 1);
    }
  };
  walk(deviceDir, 1);
  return found;
}

/**
 * What the host is using under this PCI device: block devices (and partitions) that are
 * mounted, used as swap, or held by md/dm/LVM (non-empty holders/), and network interfaces
 * that are up (IFF_UP bit 0x1 in the `flags` file, e.g. "0x1003").
 */
export function findHostUses(deviceDir: string, procRoot: string): HostUse[] {
  const mountinfo = readOptionalText(path.join(procRoot, "self", "mountinfo"));
  const swaps = readOptionalText(path.join(procRoot, "swaps"));
  return hostUsesOf(
    findClassDevices(deviceDir),
    mountinfo === null ? [] : parseMountinfo(mountinfo),
    swaps === null ? [] : parseSwaps(swaps),
  );
}
