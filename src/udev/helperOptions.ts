/**
 * The udev helper's options (`vfio-autobind udev-event --name value`), in one list: the
 * helper parses them (udevHelperProcess.ts), and the bundle's entry (src/udevMain.ts) reads
 * the state directory from them before the helper is even compiled, to find the code cache.
 */
export const HELPER_OPTIONS = [
  "sysfs-root",
  "modules-dir",
  "state-dir",
  "proc-root",
  "dev-root",
  "config-dir",
  "modprobe-root",
  "kmsg",
  "journal-socket",
] as const;
