/**
 * The device side of alias matching: the modalias the kernel publishes for every PCI
 * device. It is always fully specified, upper-case hex (scripts/mod/file2alias.c and
 * drivers/pci/pci-sysfs.c), so anything else is refused rather than guessed at.
 */

export interface PciModalias {
  /** The text exactly as the kernel wrote it, `pci:v...i..`. */
  readonly text: string;
  readonly vendor: string;
  readonly device: string;
  readonly subsystemVendor: string;
  readonly subsystemDevice: string;
  readonly baseClass: string;
  readonly subClass: string;
  readonly progIf: string;
}

const PCI_MODALIAS =
  /^pci:v([0-9A-F]{8})d([0-9A-F]{8})sv([0-9A-F]{8})sd([0-9A-F]{8})bc([0-9A-F]{2})sc([0-9A-F]{2})i([0-9A-F]{2})$/;

export class ModaliasError extends Error {
  override readonly name = "ModaliasError";
}

export function parseModalias(text: string): PciModalias {
  const m = PCI_MODALIAS.exec(text);
  if (m === null) {
    const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
    throw new ModaliasError(
      `not a PCI modalias: ${shown} (expected pci:vXXXXXXXXdXXXXXXXXsvXXXXXXXXsdXXXXXXXXbcXXscXXiXX)`,
    );
  }
  const [, vendor, device, subsystemVendor, subsystemDevice, baseClass, subClass, progIf] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return { text, vendor, device, subsystemVendor, subsystemDevice, baseClass, subClass, progIf };
}

/**
 * The string VFIO aliases are matched against: the kernel's recipe puts `vfio_` in front
 * of the device's modalias (commit cc6711b0bf36).
 */
export function vfioMatchString(modalias: PciModalias): string {
  return `vfio_${modalias.text}`;
}
