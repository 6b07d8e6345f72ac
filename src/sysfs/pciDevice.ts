/**
 * The sysfs adapter for PCI devices: reads what the kernel publishes under
 * `<root>/bus/pci/devices/<address>` into one plain object. It makes no decisions, and it
 * reads only inside the root it is given (default `/sys`), so tests run it on a fake tree.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ModaliasError, parseModalias, type PciModalias } from "../alias/modalias.js";
import { describeFsError, errnoCode, RuntimeFailure } from "../errors.js";
import { sysfsPaths, type SysfsPaths } from "../paths.js";
import type { DeviceReference } from "./deviceReference.js";
import { comparePciNames, isSysfsPciName } from "./pciAddress.js";

export type SriovRole =
  | { readonly role: "none" }
  | { readonly role: "pf"; readonly numVfs: number; readonly totalVfs: number; readonly vfs: readonly string[] }
  | { readonly role: "vf"; readonly physfn: string };

/** PCI header type (config offset 0x0E, low 7 bits). Only endpoints can go to VFIO. */
export type HeaderKind = "endpoint" | "bridge" | "cardbus" | "unknown";

export interface PciDevice {
  /** sysfs name, `0000:3b:00.2`. */
  readonly address: string;
  /** The device directory, resolved: `<root>/devices/pci0000:3a/.../0000:3b:00.2`. */
  readonly path: string;
  readonly vendor: string;
  readonly device: string;
  readonly subsystemVendor: string;
  readonly subsystemDevice: string;
  /** 24-bit class code, six hex digits: base class, subclass, programming interface. */
  readonly classCode: string;
  readonly modalias: PciModalias;
  readonly driver: string | null;
  readonly driverOverride: string | null;
  readonly iommuGroup: string | null;
  /** The other devices of the IOMMU group, in address order. */
  readonly iommuGroupPeers: readonly string[];
  readonly sriov: SriovRole;
  readonly headerType: number | null;
  readonly headerKind: HeaderKind;
  /** `vfio-dev/` exists: bound to a vfio-family driver (Linux 6.1 on). */
  readonly hasVfioDev: boolean;
  readonly numaNode: number | null;
  /** The firmware's boot display device (`boot_vga` = 1). */
  readonly bootVga: boolean;
}

/** A file in the tree held something the kernel would never write there. */
export class SysfsError extends RuntimeFailure {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

export function pciDevicesDir(root: string): string {
  return sysfsPaths(root).pciDevices;
}

/**
 * Whether the tree has a PCI bus at all. A chroot or an image build has no /sys mounted (or
 * an empty one): there, claims are written and compiled, and nothing is bound until boot.
 */
export function hasPciBus(root: string): boolean {
  return fs.existsSync(pciDevicesDir(root));
}

/** Every PCI device of the tree, in address order. */
export function listPciDeviceNames(root: string): string[] {
  const dir = pciDevicesDir(root);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    throw new SysfsError(dir, `cannot list PCI devices (${describeFsError(error)})`);
  }
  return names.filter(isSysfsPciName).sort(comparePciNames);
}

/**
 * Confirms that the reference names a PCI device of this tree and returns its sysfs name.
 * A path argument must lead to the same directory as `bus/pci/devices/<name>`.
 */
export function resolveDevice(root: string, ref: DeviceReference): string {
  const link = sysfsPaths(root).device(ref.name);
  let target: string;
  try {
    target = fs.realpathSync(link);
  } catch {
    throw new RuntimeFailure(`${ref.name}: no such PCI device in ${pciDevicesDir(root)}`);
  }
  assertInside(root, target);
  if (ref.relativePath !== undefined) {
    let given: string;
    try {
      given = fs.realpathSync(path.join(root, ref.relativePath));
    } catch {
      throw new RuntimeFailure(`${path.join(root, ref.relativePath)}: no such PCI device`);
    }
    if (given !== target) {
      throw new RuntimeFailure(`${path.join(root, ref.relativePath)}: not the PCI device ${ref.name}`);
    }
  }
  return ref.name;
}

function assertInside(root: string, target: string): void {
  const realRoot = realPath(root);
  if (target !== realRoot && !target.startsWith(`${realRoot}/`)) {
    throw new RuntimeFailure(`${target}: outside the sysfs tree ${root}; refusing to read it`);
  }
}

/**
 * realpath(3) in one call. fs.realpathSync resolves in JavaScript, an lstat per path
 * component, and every udev event resolves the device directory and the root this way.
 */
const realPath = (file: string): string => fs.realpathSync.native(file);

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return null;
    throw new SysfsError(file, `cannot read (${describeFsError(error)})`);
  }
}

function requireText(file: string): string {
  const text = readText(file);
  if (text === null) throw new SysfsError(file, "missing");
  return text;
}

function linkName(link: string): string | null {
  try {
    return path.basename(fs.readlinkSync(link));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return null;
    throw new SysfsError(link, `cannot read link (${describeFsError(error)})`);
  }
}

function readHexId(file: string, digits: number): string {
  const text = requireText(file).trim();
  const m = new RegExp(`^0x([0-9a-fA-F]{${digits}})$`).exec(text);
  if (m === null) {
    throw new SysfsError(
      file,
      `expected 0x followed by ${digits} hex digits, found ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return (m[1] as string).toLowerCase();
}

function readCount(file: string): number {
  const text = requireText(file).trim();
  if (!/^\d+$/.test(text)) throw new SysfsError(file, `expected a number, found ${JSON.stringify(text.slice(0, 40))}`);
  return Number.parseInt(text, 10);
}

/** `driver_override` reads `(null)` (or, on some kernels, an empty line) when unset. */
export function parseDriverOverride(text: string | null): string | null {
  if (text === null) return null;
  const value = text.split("\n")[0] as string;
  return value === "" || value === "(null)" ? null : value;
}

function readHeaderType(file: string): number | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const buffer = Buffer.alloc(1);
    const read = fs.readSync(fd, buffer, 0, 1, 0x0e);
    return read === 1 ? (buffer[0] as number) & 0x7f : null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function headerKindOf(headerType: number | null): HeaderKind {
  switch (headerType) {
    case 0:
      return "endpoint";
    case 1:
      return "bridge";
    case 2:
      return "cardbus";
    default:
      return "unknown";
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readSriov(paths: SysfsPaths, address: string): SriovRole {
  const file = (name: string): string => paths.deviceFile(address, name);
  const physfn = linkName(file("physfn"));
  if (physfn !== null) return { role: "vf", physfn };
  if (readText(file("sriov_totalvfs")) === null) return { role: "none" };
  const vfs = listDir(paths.device(address))
    .filter((entry) => /^virtfn\d+$/.test(entry))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((entry) => linkName(file(entry)))
    .filter((name): name is string => name !== null);
  return {
    role: "pf",
    numVfs: readCount(file("sriov_numvfs")),
    totalVfs: readCount(file("sriov_totalvfs")),
    vfs,
  };
}

export function readPciDevice(root: string, address: string): PciDevice {
  const paths = sysfsPaths(root);
  const link = paths.device(address);
  let dir: string;
  try {
    dir = realPath(link);
  } catch {
    throw new RuntimeFailure(`${address}: no such PCI device in ${pciDevicesDir(root)}`);
  }
  assertInside(root, dir);
  const file = (name: string): string => paths.deviceFile(address, name);

  const modaliasFile = file("modalias");
  let modalias: PciModalias;
  try {
    modalias = parseModalias(requireText(modaliasFile).trim());
  } catch (error) {
    if (error instanceof ModaliasError) throw new SysfsError(modaliasFile, error.message);
    throw error;
  }

  const iommuGroup = linkName(file("iommu_group"));
  const iommuGroupPeers =
    iommuGroup === null
      ? []
      : listDir(paths.iommuGroupDevices(iommuGroup))
          .filter((peer) => peer !== address && isSysfsPciName(peer))
          .sort(comparePciNames);

  const numaText = readText(file("numa_node"));
  const numaNode = numaText !== null && /^-?\d+$/.test(numaText.trim()) ? Number(numaText.trim()) : null;
  const headerType = readHeaderType(file("config"));

  return {
    address,
    path: dir,
    vendor: readHexId(file("vendor"), 4),
    device: readHexId(file("device"), 4),
    subsystemVendor: readHexId(file("subsystem_vendor"), 4),
    subsystemDevice: readHexId(file("subsystem_device"), 4),
    classCode: readHexId(file("class"), 6),
    modalias,
    driver: linkName(file("driver")),
    driverOverride: parseDriverOverride(readText(file("driver_override"))),
    iommuGroup,
    iommuGroupPeers,
    sriov: readSriov(paths, address),
    headerType,
    headerKind: headerKindOf(headerType),
    hasVfioDev: fs.existsSync(file("vfio-dev")),
    numaNode: numaNode !== null && numaNode >= 0 ? numaNode : null,
    bootVga: readText(file("boot_vga"))?.trim() === "1",
  };
}

/**
 * The device as a caller read it moments ago, outside any lock, when it is this address's;
 * otherwise read now. The udev helper reads a device once to select its claim and hands that
 * read down instead of reading it again; whatever runs under a lock reads afresh instead.
 */
export function seenOrReadPciDevice(root: string, address: string, seen: PciDevice | undefined): PciDevice {
  return seen?.address === address ? seen : readPciDevice(root, address);
}

/**
 * The little a journal line's node note needs (the IOMMU group and whether `vfio-dev/`
 * exists), read without the rest of readPciDevice's attributes. A device that has gone reads
 * as one not on VFIO.
 */
export function readVfioView(root: string, address: string): Pick<PciDevice, "address" | "iommuGroup" | "hasVfioDev"> {
  const paths = sysfsPaths(root);
  return {
    address,
    iommuGroup: linkName(paths.deviceFile(address, "iommu_group")),
    hasVfioDev: fs.existsSync(paths.deviceFile(address, "vfio-dev")),
  };
}

/**
 * The PCI driver a loaded module registers, from `/sys/module/<module>/drivers/pci:<name>`:
 * the only reliable way to learn it (vfio_pci registers `vfio-pci`). Null when the module
 * is not loaded or registers no PCI driver.
 */
export function pciDriverOfModule(root: string, module: string): string | null {
  const entries = listDir(sysfsPaths(root).moduleDrivers(module));
  const pci = entries.filter((entry) => entry.startsWith("pci:")).sort();
  return pci.length === 0 ? null : (pci[0] as string).slice("pci:".length);
}

/** The driver bound to a device right now (the `driver` link), read fresh each time. */
export function readBoundDriver(root: string, address: string): string | null {
  return linkName(sysfsPaths(root).boundDriverLink(address));
}

/** The device's driver_override right now; null when unset (or the device is gone). */
export function readDriverOverride(root: string, address: string): string | null {
  return parseDriverOverride(readText(sysfsPaths(root).driverOverride(address)));
}

/** Whether the device is still there (it may be hot-removed at any moment). */
export function deviceExists(root: string, address: string): boolean {
  return fs.existsSync(sysfsPaths(root).device(address));
}

/** The module behind a registered PCI driver (`drivers/<driver>/module`), if it says. */
export function moduleOfDriver(root: string, driver: string): string | null {
  return linkName(sysfsPaths(root).moduleOfDriverLink(driver));
}
