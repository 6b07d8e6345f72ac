/**
 * Names from the pci.ids database (the file lspci reads), looked up by string search so
 * that `list` does not parse 1.3 MB of text line by line under --jitless. Pure.
 *
 * Layout: `vvvv  Vendor` at column 0, `\tdddd  Device` below it; classes as `C bb  Class`
 * with `\tss  Subclass` below. IDs are lower-case hex; comments start with `#`.
 */

export interface PciNames {
  readonly vendor: string | null;
  readonly device: string | null;
  /** Subclass name when known, else the base class name. */
  readonly className: string | null;
}

/** The end of the block that starts at `from`: the next line that is not indented. */
function blockEnd(text: string, from: number): number {
  const next = /\n[^\t#\n]/g;
  next.lastIndex = from;
  const m = next.exec(text);
  return m === null ? text.length : m.index;
}

/** Finds `\n<key>  Name` in [from, to) and returns its name and position. */
function findEntry(text: string, key: string, from: number, to: number): { name: string; at: number } | null {
  const needle = `\n${key}  `;
  const at = text.indexOf(needle, from);
  if (at < 0 || at >= to) return null;
  const nameStart = at + needle.length;
  let lineEnd = text.indexOf("\n", nameStart);
  if (lineEnd < 0) lineEnd = text.length;
  return { name: text.slice(nameStart, lineEnd).trim(), at: lineEnd };
}

export function lookupPciNames(text: string, vendor: string, device: string, classCode: string): PciNames {
  const body = text.startsWith("\n") ? text : `\n${text}`;
  const vendorEntry = findEntry(body, vendor.toLowerCase(), 0, body.length);
  let deviceName: string | null = null;
  if (vendorEntry !== null) {
    const end = blockEnd(body, vendorEntry.at);
    deviceName = findEntry(body, `\t${device.toLowerCase()}`, vendorEntry.at, end)?.name ?? null;
  }
  let className: string | null = null;
  const classEntry = findEntry(body, `C ${classCode.slice(0, 2).toLowerCase()}`, 0, body.length);
  if (classEntry !== null) {
    const end = blockEnd(body, classEntry.at);
    className =
      findEntry(body, `\t${classCode.slice(2, 4).toLowerCase()}`, classEntry.at, end)?.name ?? classEntry.name;
  }
  return { vendor: vendorEntry?.name ?? null, device: deviceName, className };
}

/** As lspci prints a device: `Ethernet controller: Red Hat, Inc. Virtio 1.0 network device`. */
export function formatPciNames(names: PciNames): string | null {
  const product = [names.vendor, names.device].filter((part) => part !== null).join(" ");
  if (product === "" && names.className === null) return null;
  if (names.className === null) return product;
  return product === "" ? names.className : `${names.className}: ${product}`;
}
