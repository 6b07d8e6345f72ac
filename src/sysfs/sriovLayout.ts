/**
 * Where a PF's VFs will appear: the PCI routing id of VF n is the PF's plus
 * sriov_offset + n * sriov_stride (PCIe SR-IOV spec; the kernel publishes both since
 * Linux 4.x). Lets generated udev rules name VFs before they exist.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { formatPciAddress, parsePciAddress } from "./pciAddress.js";
import { sysfsPaths } from "../paths.js";

/** Pure: the VF addresses from the PF's address and its SR-IOV numbers. */
export function vfAddresses(pf: string, offset: number, stride: number, totalVfs: number): string[] {
  const address = parsePciAddress(pf);
  if (address === null) return [];
  const routingId = (address.bus << 8) | (address.slot << 3) | address.fn;
  const result: string[] = [];
  for (let n = 0; n < totalVfs; n += 1) {
    const id = routingId + offset + n * stride;
    if (id > 0xffff) break;
    result.push(formatPciAddress({ domain: address.domain, bus: id >> 8, slot: (id >> 3) & 0x1f, fn: id & 0x7 }));
  }
  return result;
}

function readNumber(file: string): number | null {
  try {
    const text = fs.readFileSync(file, "utf8").trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/** The VF addresses of a PF in this tree, or null when the PF or its numbers are missing. */
export function readVfAddresses(root: string, pf: string): string[] | null {
  const dir = sysfsPaths(root).device(pf);
  const offset = readNumber(path.join(dir, "sriov_offset"));
  const stride = readNumber(path.join(dir, "sriov_stride"));
  const total = readNumber(path.join(dir, "sriov_totalvfs"));
  if (offset === null || stride === null || total === null || total === 0) return null;
  return vfAddresses(pf, offset, stride, total);
}
