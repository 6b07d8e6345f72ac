/** Finds and reads the pci.ids database the way lspci does; absent is fine. */
import { FileError, readOptionalRegularFile } from "../files/safeFiles.js";

export const PCI_IDS_PATHS = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"] as const;

/** pci.ids is about 1.4 MB; a file many times that is not it. */
export const MAX_PCI_IDS_BYTES = 16 * 1024 * 1024;

export function readPciIds(paths: readonly string[] = PCI_IDS_PATHS): string | null {
  for (const file of paths) {
    try {
      // Regular files only, bounded: names are a nicety, never a reason to hang or run out of memory.
      const text = readOptionalRegularFile(file, { maxBytes: MAX_PCI_IDS_BYTES });
      if (text !== null) return text;
    } catch (error) {
      if (!(error instanceof FileError)) throw error;
      // unreadable: try the next location
    }
  }
  return null;
}
