/**
 * Reading binds out of the guest's kernel log. With `dyndbg="file drivers/base/dd.c +p"`
 * on the command line the kernel logs every `driver_bound()` from the first moment, built-in
 * drivers during device_add() included; the bind-log udev rule adds a line for each bind
 * uevent that udevd saw (in the initramfs and in the root), to check the first against.
 */
import { HOLD_OVERRIDE } from "../../../../src/policy/hold.js";

/** What the bind-log rule writes before the device and the driver. */
export const BIND_UEVENT_TAG = "vmboot-bind-uevent";

/** The kernel command line words that turn on dd.c's debug lines and keep them all. */
export const BIND_LOG_CMDLINE = ['dyndbg="file drivers/base/dd.c +p"', "log_buf_len=16M"];

export interface Bind {
  readonly address: string;
  readonly driver: string;
  /** Seconds since the kernel started (the line's timestamp), null when it had none. */
  readonly time: number | null;
}

const TIME = /^\[\s*(\d+\.\d+)\]\s*/;
const PCI = "[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]";
/** drivers/base/dd.c, driver_bound(), Linux 6.1: "driver: '<driver>': driver_bound: bound to device '<BDF>'". */
const BOUND = new RegExp(`driver: '([^']+)': driver_bound: bound to device '(${PCI})'`);
/**
 * Later kernels log it with dev_dbg(), prefixed by the device's driver and name:
 * "<driver> <BDF>: driver: '<driver>': driver_bound: bound to device" (Linux 6.12: "nvme
 * 0000:00:06.0: ...", "virtio-pci 0000:00:03.0: ...").
 */
const BOUND_DEV_DBG = new RegExp(`\\S+ (${PCI}): driver: '([^']+)': driver_bound: bound to device\\s*$`);
const UEVENT = new RegExp(`${BIND_UEVENT_TAG} (${PCI}) (\\S+)`);

function timeOf(line: string): number | null {
  const match = TIME.exec(line);
  return match === null ? null : Number(match[1]);
}

/** Every PCI device bind the kernel logged, in order. */
export function kernelBinds(lines: readonly string[]): Bind[] {
  const binds: Bind[] = [];
  for (const line of lines) {
    const match = BOUND.exec(line);
    if (match !== null) binds.push({ driver: match[1] as string, address: match[2] as string, time: timeOf(line) });
    const devDbg = match === null ? BOUND_DEV_DBG.exec(line) : null;
    if (devDbg !== null) binds.push({ address: devDbg[1] as string, driver: devDbg[2] as string, time: timeOf(line) });
  }
  return binds;
}

/** Every PCI bind uevent the bind-log rule saw, in order. */
export function bindUevents(lines: readonly string[]): Bind[] {
  const binds: Bind[] = [];
  for (const line of lines) {
    const match = UEVENT.exec(line);
    if (match !== null) binds.push({ address: match[1] as string, driver: match[2] as string, time: timeOf(line) });
  }
  return binds;
}

/** The binds of `addresses` by any driver outside `vfioDrivers`: host binds. */
export function hostBinds(
  binds: readonly Bind[],
  addresses: readonly string[],
  vfioDrivers: readonly string[],
): Bind[] {
  return binds.filter((b) => addresses.includes(b.address) && !vfioDrivers.includes(b.driver));
}

/**
 * The uevents with no kernel line for the same device and driver (counted: two uevents
 * need two lines). Empty when the kernel log is complete against udev's view.
 */
export function ueventsMissingFromKernelLog(kernel: readonly Bind[], uevents: readonly Bind[]): Bind[] {
  const remaining = new Map<string, number>();
  for (const b of kernel)
    remaining.set(`${b.address} ${b.driver}`, (remaining.get(`${b.address} ${b.driver}`) ?? 0) + 1);
  const missing: Bind[] = [];
  for (const u of uevents) {
    const key = `${u.address} ${u.driver}`;
    const left = remaining.get(key) ?? 0;
    if (left === 0) missing.push(u);
    else remaining.set(key, left - 1);
  }
  return missing;
}

/** Lines the hold script or the tool wrote to the kernel log about holding a device. */
export function holdLines(lines: readonly string[]): string[] {
  return lines.filter((line) => line.includes(HOLD_OVERRIDE) || /vfio-autobind.*\bhold/i.test(line));
}
