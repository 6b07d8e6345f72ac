/**
 * The one place that writes to sysfs. Opened write-only and never created: sysfs refuses
 * O_RDWR on write-only attributes (bind, unbind, drivers_probe), and an attribute that has
 * vanished means the device was removed, which must show as ENOENT rather than a new file.
 */
import * as fs from "node:fs";

export function writeSysfsAttribute(file: string, value: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY);
  try {
    fs.writeSync(fd, value);
  } finally {
    fs.closeSync(fd);
  }
}
