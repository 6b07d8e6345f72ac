/**
 * Who holds a device through VFIO: the processes (a VMM, in practice) that have the
 * device's VFIO group node `/dev/vfio/<group>` or its device cdev `/dev/vfio/devices/vfioN`
 * (Linux 6.2 on, iommufd) open, found through `/proc/<pid>/fd` and, for a file closed after
 * mmapping a BAR, `/proc/<pid>/maps`. Unbinding such a device blocks in the kernel until the
 * holder lets go, and pulls it from under a running guest.
 *
 * A holder is told by the node's identity, never by a path alone (procFiles.ts): an fd whose
 * link reads as the node counts only if it opens that node (or another node of the same
 * device, as in a container's own /dev), and a mapping only if its device and inode are the
 * node's. Otherwise any local user could block release and apply with a file of the right name.
 *
 * A device fd obtained from a group fd is an anonymous inode (`anon_inode:[vfio-device]`)
 * that does not name its device; a VMM keeps the group fd open beside it, which is what is
 * found here. Read-only and forgiving: a process that exits mid-scan, or whose entries
 * cannot be read, is skipped. Hostile process names are escaped before anyone prints them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isSafeCdevName, isSafeIommuGroup, sysfsPaths, vfioNodeFile, vfioNodePaths } from "../paths.js";
import { oneLine } from "../text/safeText.js";
import type { PciDevice } from "./pciDevice.js";
import { fdOpens, fileIdOf, mappedFiles, mountTableOf, type FileId } from "./procFiles.js";

export interface VfioHolder {
  readonly pid: number;
  /** The process name from `comm`, with control characters escaped. */
  readonly command: string;
  /** The node it has open: `/dev/vfio/42` or `/dev/vfio/devices/vfio0`. */
  readonly node: string;
}

/** Where a holder scan looks: /proc, and the /dev the nodes are in (tests give trees of their own). */
export interface HolderRoots {
  readonly procRoot: string;
  readonly devRoot: string;
}

const PID = /^[1-9][0-9]{0,9}$/;

/** The VFIO nodes a device has now: its group's node, and its cdev when the kernel gives one. */
export function vfioNodesOf(sysfsRoot: string, device: Pick<PciDevice, "address" | "iommuGroup">): string[] {
  const nodes: string[] = [];
  if (device.iommuGroup !== null && isSafeIommuGroup(device.iommuGroup))
    nodes.push(vfioNodePaths.group(device.iommuGroup));
  const cdev = vfioCdevOf(sysfsRoot, device.address);
  if (cdev !== null) nodes.push(vfioNodePaths.cdev(cdev));
  return nodes;
}

/**
 * The device's cdev name (`vfio0`), or null. Since 6.1 a device on VFIO has `vfio-dev/vfioN`
 * in sysfs, but only a kernel with the iommufd cdev (VFIO_DEVICE_CDEV, 6.6 on) gives it a
 * `dev` (major:minor) and so a node `/dev/vfio/devices/vfioN`.
 */
export function vfioCdevOf(sysfsRoot: string, address: string): string | null {
  try {
    const dir = sysfsPaths(sysfsRoot).deviceFile(address, "vfio-dev");
    const names = fs.readdirSync(dir).filter((n) => isSafeCdevName(n) && fs.existsSync(path.join(dir, n, "dev")));
    return names.sort()[0] ?? null;
  } catch {
    return null;
  }
}

function readComm(procRoot: string, pid: string): string {
  try {
    // comm is at most 16 bytes (TASK_COMM_LEN); reading more would only be a hostile file.
    const fd = fs.openSync(path.join(procRoot, pid, "comm"), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const buffer = Buffer.alloc(64);
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      return oneLine(buffer.toString("utf8", 0, n).replace(/\n$/, ""), 64) || "?";
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "?";
  }
}

/** A node looked for: its name, the path fd links show for it, and its identity (null: not there). */
interface WantedNode {
  readonly name: string;
  readonly link: string;
  readonly id: FileId | null;
}

function openNodes(procRoot: string, pid: string, wanted: readonly WantedNode[]): Set<string> {
  const found = new Set<string>();
  const fdDir = path.join(procRoot, pid, "fd");
  let fds: string[];
  try {
    fds = fs.readdirSync(fdDir);
  } catch {
    return found; // gone, or not ours to read
  }
  const mounts = mountTableOf(procRoot, pid);
  for (const fd of fds) {
    let target: string;
    try {
      target = fs.readlinkSync(path.join(fdDir, fd));
    } catch {
      continue; // closed while we looked
    }
    // The link's text only picks the candidates (no other fd is looked at further); its identity decides.
    const node = wanted.find((n) => n.link === target);
    if (node !== undefined && fdOpens(procRoot, pid, fd, node.id, mounts)) found.add(node.name);
  }
  return found;
}

/** Every process that has one of `nodes` open or mapped, in pid order. */
export function findVfioHolders(roots: HolderRoots, nodes: readonly string[]): VfioHolder[] {
  if (nodes.length === 0) return [];
  const { procRoot, devRoot } = roots;
  let pids: string[];
  try {
    pids = fs.readdirSync(procRoot).filter((name) => PID.test(name));
  } catch {
    return [];
  }
  const wanted = nodes.map((name) => {
    const file = vfioNodeFile(devRoot, name);
    return { name, link: file, id: fileIdOf(file) };
  });
  // Only a cdev can show in maps: BARs mmapped through a device fd got from a group are
  // mapped from an anonymous inode, never from the group node. Without a cdev (kernels
  // before 6.6), no maps file is read at all.
  const mappable = new Map<string, FileId>();
  for (const node of wanted)
    if (node.id !== null && node.name.startsWith(`${vfioNodePaths.cdevDir}/`)) mappable.set(node.name, node.id);
  const holders: VfioHolder[] = [];
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (const pid of pids.sort((a, b) => Number(a) - Number(b))) {
    const open = openNodes(procRoot, pid, wanted);
    if (mappable.size > 0) for (const node of mappedFiles(procRoot, pid, mappable, chunk)) open.add(node);
    if (open.size === 0) continue;
    const command = readComm(procRoot, pid);
    for (const node of [...open].sort()) holders.push({ pid: Number(pid), command, node });
  }
  return holders;
}

/** "/dev/vfio/42 is open by qemu-system-x86 (pid 4711)", one phrase per holder. */
export function describeHolders(holders: readonly VfioHolder[]): string {
  return holders.map((h) => `${h.node} is open by ${h.command} (pid ${h.pid})`).join("; ");
}

/** What status, explain and the journal say about a device's VFIO side. */
export interface VfioFacts {
  /** `/dev/vfio/<group>` while the device is on a VFIO driver, else null. */
  readonly groupNode: string | null;
  /** `/dev/vfio/devices/vfioN` when the kernel gave the device a cdev (6.2+, iommufd), else null. */
  readonly cdev: string | null;
  /** The cdev's sysfs entry under the device (`vfio-dev/vfioN`), else null. */
  readonly cdevSysfs: string | null;
  readonly holders: readonly VfioHolder[];
}

export function vfioFactsOf(
  sysfsRoot: string,
  roots: HolderRoots,
  device: Pick<PciDevice, "address" | "iommuGroup" | "hasVfioDev">,
  options: { readonly scanHolders: boolean } = { scanHolders: true },
): VfioFacts {
  if (!device.hasVfioDev) return { groupNode: null, cdev: null, cdevSysfs: null, holders: [] };
  const cdevName = vfioCdevOf(sysfsRoot, device.address);
  const groupNode =
    device.iommuGroup === null || !isSafeIommuGroup(device.iommuGroup) ? null : vfioNodePaths.group(device.iommuGroup);
  const cdev = cdevName === null ? null : vfioNodePaths.cdev(cdevName);
  const nodes = [groupNode, cdev].filter((n): n is string => n !== null);
  return {
    groupNode,
    cdev,
    cdevSysfs: cdevName === null ? null : `vfio-dev/${cdevName}`,
    holders: options.scanHolders ? findVfioHolders(roots, nodes) : [],
  };
}

/** "/dev/vfio/42, /dev/vfio/devices/vfio0" or "none". */
export function describeVfioNodes(facts: VfioFacts): string {
  const nodes = [facts.groupNode, facts.cdev].filter((n): n is string => n !== null);
  return nodes.length === 0 ? "none (not on a VFIO driver)" : nodes.join(", ");
}
