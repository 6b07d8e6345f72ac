/**
 * A stand-in for journald's stream socket (/run/systemd/journal/stdout): accepts
 * connections, reads the systemd-cat header and collects each line with its priority and
 * identifier, as journald would store them.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface JournalEntry {
  readonly identifier: string;
  readonly priority: number;
  readonly message: string;
}

export interface FakeJournal {
  readonly socket: string;
  readonly entries: JournalEntry[];
  close(): Promise<void>;
}

export async function startFakeJournal(): Promise<FakeJournal> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-journal-"));
  const socket = path.join(dir, "stdout");
  const entries: JournalEntry[] = [];
  const server = net.createServer((connection) => {
    let buffer = "";
    connection.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
    });
    connection.on("end", () => {
      const lines = buffer.split("\n");
      const [identifier, , defaultPriority, levelPrefix] = lines;
      for (const line of lines.slice(7).filter((l) => l !== "")) {
        const m = levelPrefix === "1" ? /^<(\d)>(.*)$/.exec(line) : null;
        entries.push({
          identifier: identifier ?? "",
          priority: m === null ? Number(defaultPriority) : Number(m[1]),
          message: m === null ? line : (m[2] as string),
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    entries,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
