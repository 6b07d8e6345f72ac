/**
 * journald's stream socket, as systemd-cat writes to it: a unix stream connection, a short
 * header, then one `<priority>text` line per message. The udev helper's lines go here only
 * when the kernel log cannot take them (kernelLog.ts), so the connection, and `node:net`
 * with the stream modules it brings (src/process/lazyBuiltins.ts), are set up at the first line,
 * never before: an event whose lines all went to the kernel log loads none of them.
 */
import type * as net from "node:net";
import { loadNet } from "../process/lazyBuiltins.js";

const CLOSE_TIMEOUT_MS = 2_000;

export interface JournalStream {
  /** Queues one line, `<priority>text\n`; a line the journal does not take goes to the fallback. */
  write(line: string): void;
  /** Waits until every line has been handed over (or given up on). */
  close(): Promise<void>;
}

export function journalStream(
  socketPath: string,
  identifier: string,
  defaultPriority: number,
  fallback: (line: string) => void,
): JournalStream {
  const pending: string[] = [];
  let failed = false;
  let socket: net.Socket | null = null;
  const toFallback = (line: string): void => fallback(`${identifier}: ${line.replace(/^<\d>/, "")}`);
  const fail = (): void => {
    if (failed) return;
    failed = true;
    for (const line of pending) toFallback(line);
  };
  const connect = (): net.Socket => {
    // journald half-closes every stdout stream right after accepting it; keep our side open.
    const connection = loadNet().createConnection({ path: socketPath, allowHalfOpen: true });
    connection.on("error", fail);
    // Identifier, unit id (none), default priority, level prefix on, no forwarding.
    connection.write(`${identifier}\n\n${defaultPriority}\n1\n0\n0\n0\n`);
    return connection;
  };
  return {
    write(line: string): void {
      if (failed) return toFallback(line);
      pending.push(line);
      socket ??= connect();
      socket.write(line);
    },
    close: () =>
      new Promise<void>((resolve) => {
        const connection = socket;
        if (failed || connection === null || connection.destroyed) return resolve();
        const timer = setTimeout(() => {
          connection.destroy();
          resolve();
        }, CLOSE_TIMEOUT_MS);
        timer.unref();
        connection.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        connection.end();
      }),
  };
}
