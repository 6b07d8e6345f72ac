/**
 * Stand-ins for the two ways the udev helper's lines reach journald, as journald would
 * store them:
 * - the kernel log: a regular file (`kmsg`) the helper appends `<P>identifier[pid]: text`
 *   records to, parsed back as journald-kmsg.c does (identifier and pid from the text,
 *   the level from P's low three bits);
 * - the stream socket (/run/systemd/journal/stdout): accepts connections, reads the
 *   systemd-cat header and collects each line with its priority and identifier.
 * Pass both (`--kmsg`, `--journal-socket`) to the helper.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface JournalEntry {
  readonly identifier: string;
  readonly priority: number;
  readonly message: string;
  /** `kernel` for a record from the kernel log, `stdout` for a line from the stream socket. */
  readonly transport: "kernel" | "stdout";
  /** SYSLOG_PID: the kernel log's records carry it; the stream's lines do not. */
  readonly pid?: number;
}

export interface FakeJournal {
  /** The kernel log stand-in: pass it as `--kmsg`. */
  readonly kmsg: string;
  readonly socket: string;
  /** Every entry so far: the kernel log's records (read now), then the stream's lines. */
  readonly entries: JournalEntry[];
  close(): Promise<void>;
}

const KMSG_RECORD = /^<(\d{1,3})>([^[\]:\s]+)\[([1-9][0-9]*)\]: (.*)$/;

/** The kernel log stand-in's records, as journald would store them. */
export function parseKmsgRecords(text: string): JournalEntry[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const m = KMSG_RECORD.exec(line);
      if (m === null) return { identifier: "", priority: -1, message: line, transport: "kernel" as const };
      return {
        identifier: m[2] as string,
        priority: Number(m[1]) & 7,
        message: m[4] as string,
        transport: "kernel" as const,
        pid: Number(m[3]),
      };
    });
}

export async function startFakeJournal(): Promise<FakeJournal> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-journal-"));
  const socket = path.join(dir, "stdout");
  const kmsg = path.join(dir, "kmsg");
  fs.writeFileSync(kmsg, "", { mode: 0o600 });
  const streamEntries: JournalEntry[] = [];
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
        streamEntries.push({
          identifier: identifier ?? "",
          priority: m === null ? Number(defaultPriority) : Number(m[1]),
          message: m === null ? line : (m[2] as string),
          transport: "stdout",
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    kmsg,
    socket,
    get entries(): JournalEntry[] {
      return [...parseKmsgRecords(fs.readFileSync(kmsg, "utf8")), ...streamEntries];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
