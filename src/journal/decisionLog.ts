/**
 * One journal line per decision, under the identifier `vfio-autobind`. A RUN+= program's
 * own stdout is invisible at udev's default log level, so the helper writes to journald's
 * stream socket itself, as systemd-cat does: a unix stream connection, a short header,
 * then one line per message with a `<priority>` prefix. No process is started for it.
 * Where there is no journal (a container, a test), the lines go to stderr instead.
 */
import * as net from "node:net";
import { DEFAULT_PATHS } from "../paths.js";

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
    const line = `<${priority}>${message.replace(/\n/g, " ")}\n`;
    if (failed) {
      fallback(`${SYSLOG_IDENTIFIER}: ${message}\n`);
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

/** For commands run by hand: the decisions go to the terminal only. */
export function terminalLog(write: (line: string) => void): DecisionLog {
  return {
    info: (message) => write(`${message}\n`),
    error: (message) => write(`${message}\n`),
    close: () => Promise.resolve(),
  };
}
