/**
 * One journal line per decision, under the identifier `vfio-autobind`. A RUN+= program's
 * own stdout is invisible at udev's default log level, so the helper writes its lines
 * itself, without starting a process:
 * - to the kernel log, /dev/kmsg (kernelLog.ts), which journald reads and stores under the
 *   line's identifier and pid: `journalctl -t vfio-autobind` shows them, and so does
 *   `dmesg`. One open and one write per line, nothing to load: the helper runs once per
 *   claimed device, under --jitless, and connecting to journald cost each event the `net`
 *   and stream modules (compiled from source every time) and a connection;
 * - to journald's stream socket (journalStream.ts) when the kernel log cannot take a line:
 *   no /dev/kmsg or another device there (a container), printk_devkmsg=off, a failed write,
 *   or a record too long for the kernel's limit, which is sent whole this way rather than
 *   cut. From the first such line on, every later line takes the same way, so the journal
 *   keeps them in order;
 * - to stderr where there is no journal either (a container, a test).
 *
 * Messages carry names from files, sysfs and arguments: every control character in them
 * is escaped (a newline would start a forged entry, ESC would drive a terminal), and a
 * line is cut at 2 KiB with a visible marker.
 */
import { DEFAULT_PATHS } from "../paths.js";
import { oneLine } from "../text/safeText.js";
import { kernelLog, kmsgRecord } from "./kernelLog.js";
import { journalStream } from "./journalStream.js";

export const SYSLOG_IDENTIFIER = "vfio-autobind";

export interface DecisionLog {
  info(message: string): void;
  error(message: string): void;
  /** Waits until every line has been handed over (or given up on). */
  close(): Promise<void>;
}

/** Where the lines go: the kernel log first, journald's stream socket when it cannot take one (defaults: DEFAULT_PATHS). */
export interface JournalTargets {
  readonly kmsg?: string | undefined;
  readonly journalSocket?: string | undefined;
}

/** syslog levels. */
const LEVEL_INFO = 6;
const LEVEL_ERROR = 3;
/** The message's bound, in bytes of UTF-8, escapes included. */
export const LINE_MAX_BYTES = 2048;

export function journalLog(
  targets: JournalTargets = {},
  fallback: (line: string) => void = (line) => void process.stderr.write(line),
): DecisionLog {
  const kmsg = targets.kmsg ?? DEFAULT_PATHS.kmsg;
  const kernel = kernelLog(kmsg);
  const stream = journalStream(
    targets.journalSocket ?? DEFAULT_PATHS.journalSocket,
    SYSLOG_IDENTIFIER,
    LEVEL_INFO,
    fallback,
  );
  let onStream = false;
  const send = (level: number, message: string): void => {
    const text = oneLine(message, LINE_MAX_BYTES);
    if (!onStream && kernel.write(kmsgRecord(SYSLOG_IDENTIFIER, process.pid, level, text))) return;
    onStream = true;
    stream.write(`<${level}>${text}\n`);
  };
  return {
    info: (message) => send(LEVEL_INFO, message),
    error: (message) => send(LEVEL_ERROR, message),
    close: () => stream.close(),
  };
}
