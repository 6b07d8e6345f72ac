/** Finds and reads the pci.ids database the way lspci does; absent is fine. */
import * as fs from "node:fs";

export const PCI_IDS_PATHS = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"] as const;

export function readPciIds(paths: readonly string[] = PCI_IDS_PATHS): string | null {
  for (const file of paths) {
    try {
      return fs.readFileSync(file, "utf8");
    } catch {
      // try the next location; names are a nicety
    }
  }
  return null;
}
