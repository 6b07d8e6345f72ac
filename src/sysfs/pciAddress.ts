/**
 * PCI addresses as admins type them and as sysfs names them. Pure.
 * sysfs writes `dddd:bb:dd.f` in lower case; domains can be wider than four hex digits
 * (Intel VMD puts devices in domains such as 10000).
 */

const ADDRESS = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

export interface PciAddress {
  readonly domain: number;
  readonly bus: number;
  readonly slot: number;
  readonly fn: number;
}

/** Parses `0000:3b:00.2`, `3b:00.2` (domain 0000) or `10000:01:00.0`; null otherwise. */
export function parsePciAddress(text: string): PciAddress | null {
  const m = ADDRESS.exec(text);
  if (m === null) return null;
  const slot = Number.parseInt(m[3] as string, 16);
  if (slot > 0x1f) return null;
  return {
    domain: m[1] === undefined ? 0 : Number.parseInt(m[1], 16),
    bus: Number.parseInt(m[2] as string, 16),
    slot,
    fn: Number.parseInt(m[4] as string, 10),
  };
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

/** The name sysfs gives the device: `0000:3b:00.2`. */
export function formatPciAddress(a: PciAddress): string {
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn}`;
}

/** True when `name` is exactly a sysfs device name (canonical form). */
export function isSysfsPciName(name: string): boolean {
  const parsed = parsePciAddress(name);
  return parsed !== null && formatPciAddress(parsed) === name;
}

/** Orders addresses as lspci does: domain, bus, slot, function. */
export function comparePciNames(a: string, b: string): number {
  const pa = parsePciAddress(a);
  const pb = parsePciAddress(b);
  if (pa === null || pb === null) return a < b ? -1 : a > b ? 1 : 0;
  return pa.domain - pb.domain || pa.bus - pb.bus || pa.slot - pb.slot || pa.fn - pb.fn;
}
