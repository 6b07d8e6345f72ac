/**
 * What an admin may type to name a device, reduced to a sysfs device name before any file
 * is touched. Pure: the adapter then checks that the device exists in its tree.
 *
 * Accepted: a full address (`0000:3b:00.2`), a short one (`3b:00.2`, domain 0000), or a
 * sysfs path to the device (`/sys/bus/pci/devices/0000:3b:00.2`,
 * `/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.2`). Paths are taken relative to the
 * sysfs root in use: either under that root, or spelled with `/sys/` (which then means that
 * root, so the same command works against a test tree).
 */
import * as path from "node:path";
import { UsageError } from "../errors.js";
import { formatPciAddress, isSysfsPciName, parsePciAddress } from "./pciAddress.js";

export interface DeviceReference {
  /** sysfs device name, `0000:3b:00.2`. */
  readonly name: string;
  /** For path arguments: the path inside the sysfs root that must lead to the device. */
  readonly relativePath?: string;
}

export function parseDeviceReference(argument: string, sysfsRoot: string): DeviceReference {
  if (!argument.includes("/")) {
    const address = parsePciAddress(argument);
    if (address === null) {
      throw new UsageError(
        `${JSON.stringify(argument)} is not a PCI device: give an address such as 0000:3b:00.2 or 3b:00.2, or a sysfs path`,
      );
    }
    return { name: formatPciAddress(address) };
  }

  const relativePath = relativeToSysfs(argument, sysfsRoot);
  if (relativePath === null) {
    throw new UsageError(`${argument}: not a path under ${sysfsRoot}`);
  }
  const parts = relativePath.split("/");
  const name = parts[parts.length - 1] as string;
  const viaBus = parts.length === 4 && parts[0] === "bus" && parts[1] === "pci" && parts[2] === "devices";
  const viaDevices =
    parts.length >= 3 &&
    parts[0] === "devices" &&
    /^pci[0-9a-f]{4,8}:[0-9a-f]{2}$/.test(parts[1] as string) &&
    parts.slice(2).every(isSysfsPciName);
  if (!(viaBus && isSysfsPciName(name)) && !viaDevices) {
    throw new UsageError(
      `${argument}: not a PCI device path (expected .../bus/pci/devices/<address> or .../devices/pciDDDD:BB/.../<address>)`,
    );
  }
  return { name, relativePath };
}

/** The argument as a normalised path inside the sysfs root, or null if it leaves it. */
function relativeToSysfs(argument: string, sysfsRoot: string): string | null {
  const absolute = path.posix.normalize(argument).replace(/\/+$/, "");
  if (argument.split("/").includes("..")) return null;
  const root = path.posix.normalize(sysfsRoot).replace(/\/+$/, "");
  for (const prefix of [root, "/sys"]) {
    if (prefix !== "" && absolute.startsWith(`${prefix}/`)) return absolute.slice(prefix.length + 1);
  }
  return null;
}
