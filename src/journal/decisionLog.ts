/**
 * One journal line per decision, under the identifier `vfio-autobind`. A RUN+= program's
 * own stdout is invisible at udev's default log level, so the helper writes to journald's
 * stream socket itself, as systemd-cat does: a unix stream connection, a short header,
 * then one line per message with a `<priority>` prefix. No process is started for it.
 * Where there is no journal (a container, a test), the lines go to stderr instead.
 *
 * Messages carry names from files, sysfs and arguments: every control character in them
 * is escaped (a newline would start a forged entry, ESC would drive a terminal), and a
 * line is cut at 2 KiB with a visible marker.
 */
import * as net from "node:net";
import { DEFAULT_PATHS } from "../paths.js";
import { oneLine } from "../text/safeText.js";

export const SYSLOG_IDENTIFIER = "vfio-autobind";

export interface DecisionLog {
  info(message: string): void;
  error(message: string): void;
  /** Waits until every line has been handed over (or given up on). */
  close(): Promise<void>;
}

const PRIORITY_INFO = 6;
const PRIORITY_ERROR = 3;
const CLOSE_TIMEOUT_MS = 2_000;
/** The message's bound, in bytes of UTF-8, escapes included. */
export const LINE_MAX_BYTES = 2048;

export function journalLog(
  socketPath: string = DEFAULT_PATHS.journalSocket,
  fallback: (line: string) => void = (line) => void process.stderr.write(line),
): DecisionLog {
  const pending: string[] = [];
  let failed = false;
  // journald half-closes every stdout stream right after accepting it; keep our side open.
  const socket = net.createConnection({ path: socketPath, allowHalfOpen: true });
  // Identifier, unit id (none), default priority, level prefix on, no forwarding.
  socket.write(`${SYSLOG_IDENTIFIER}\n\n${PRIORITY_INFO}\n1\n0\n0\n0\n`);
  socket.on("error", () => {
    if (failed) return;
    failed = true;
    for (const line of pending) fallback(`${SYSLOG_IDENTIFIER}: ${line.replace(/^<\d>/, "")}`);
  });
  const send = (priority: number, message: string): void => {
    const text = oneLine(message, LINE_MAX_BYTES);
    const line = `<${priority}>${text}\n`;
    if (failed) {
      fallback(`${SYSLOG_IDENTIFIER}: ${text}\n`);
      return;
    }
    pending.push(line);
    socket.write(line);
  };
  return {
    info: (message) => send(PRIORITY_INFO, message),
    error: (message) => send(PRIORITY_ERROR, message),
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, CLOSE_TIMEOUT_MS);
        timer.unref();
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        if (failed || socket.destroyed) return done();
        socket.once("close", done);
        socket.end();
      }),
  };
}
