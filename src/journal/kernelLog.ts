/**
 * One line into the kernel log, /dev/kmsg, as `<P>vfio-autobind[PID]: TEXT\n`: journald
 * reads every record back and, for a facility other than LOG_KERN, stores it with
 * SYSLOG_IDENTIFIER, SYSLOG_PID and PRIORITY parsed from it (_TRANSPORT=kernel), so
 * `journalctl -t vfio-autobind` shows it as it showed the stream's lines. It costs an
 * open and a write: no socket to connect, and no `net` or stream modules to compile under
 * --jitless on every udev event.
 *
 * What the kernel does with a write (kernel/printk/printk.c, devkmsg_open / devkmsg_write):
 * - open fails with EPERM when printk_devkmsg is "off";
 * - each open file has its own rate limit (10 records per 5 s by default); a record over it
 *   is dropped while write() still reports success. So the file is opened afresh for every
 *   line: one record per open is always within the limit;
 * - a write longer than the record limit fails with EINVAL (992 bytes before 5.10, 1024
 *   since): a record over KMSG_RECORD_MAX_BYTES is not attempted at all.
 * In a container /dev/kmsg may be missing, a symlink or another device bind-mounted over
 * it (/dev/null would swallow every line, /dev/console would show them on a terminal): the
 * path is opened only if it is the kernel's character device 1:11, without following a
 * link. A path other than the default may also be a regular file or a FIFO: the tests'
 * stand-in.
 */
import * as fs from "node:fs";
import { DEFAULT_PATHS } from "../paths.js";

/** A record's bound in bytes, prefix and newline included, below every kernel's limit (992). */
export const KMSG_RECORD_MAX_BYTES = 976;

/** syslog's LOG_USER facility: journald parses the identifier of every facility but LOG_KERN. */
const LOG_USER = 1;

/** The kernel log's device number, major 1 (mem) minor 11, as glibc's makedev encodes it. */
const KMSG_RDEV = (1 << 8) | 11;

/** The record for `text` (already one escaped line) at syslog `level`: `<P>identifier[pid]: text\n`. */
export function kmsgRecord(identifier: string, pid: number, level: number, text: string): string {
  return `<${LOG_USER * 8 + level}>${identifier}[${pid}]: ${text}\n`;
}

/** Whether `stats` is the kernel log's character device (and not /dev/null, a tty, ...). */
export function isKernelLogDevice(stats: fs.Stats): boolean {
  return stats.isCharacterDevice() && stats.rdev === KMSG_RDEV;
}

export interface KernelLog {
  /**
   * Writes one record; false when it was not written (not usable here, too long, or the
   * write failed), so the caller sends it elsewhere. Never cuts a record.
   */
  write(record: string): boolean;
}

export function kernelLog(kmsgPath: string = DEFAULT_PATHS.kmsg): KernelLog {
  const standInAllowed = kmsgPath !== DEFAULT_PATHS.kmsg;
  return {
    write(record: string): boolean {
      const bytes = Buffer.from(record, "utf8");
      if (bytes.length > KMSG_RECORD_MAX_BYTES) return false;
      let expected: fs.Stats;
      try {
        // Looked at before it is opened: opening some other device may itself do something.
        expected = fs.lstatSync(kmsgPath);
      } catch {
        return false;
      }
      if (!acceptable(expected, standInAllowed)) return false;
      let fd: number;
      try {
        fd = fs.openSync(
          kmsgPath,
          fs.constants.O_WRONLY |
            fs.constants.O_APPEND |
            fs.constants.O_NOFOLLOW |
            fs.constants.O_NONBLOCK |
            fs.constants.O_NOCTTY,
        );
      } catch {
        return false; // EPERM (printk_devkmsg=off), EACCES, ENXIO (a FIFO nobody reads), ...
      }
      try {
        const opened = fs.fstatSync(fd);
        // The same file that was looked at, not one put in its place in between.
        if (opened.dev !== expected.dev || opened.ino !== expected.ino || !acceptable(opened, standInAllowed))
          return false;
        return fs.writeSync(fd, bytes, 0, bytes.length) === bytes.length;
      } catch {
        return false; // EINVAL (a smaller record limit), EAGAIN (a full FIFO), ...
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

function acceptable(stats: fs.Stats, standInAllowed: boolean): boolean {
  if (isKernelLogDevice(stats)) return true;
  return standInAllowed && (stats.isFile() || stats.isFIFO());
}
