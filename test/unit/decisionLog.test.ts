import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as journal from "../../src/journal/decisionLog.js";
import { journalLog, LINE_MAX_BYTES } from "../../src/journal/decisionLog.js";
import { TRUNCATION_MARKER } from "../../src/text/safeText.js";

/** A stand-in for journald's stream socket that half-closes as journald does; resolves with everything received. */
async function fakeJournal(): Promise<{ socket: string; received: Promise<string>; cleanup(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-journal-"));
  const socket = path.join(dir, "stdout");
  let text = "";
  const received = new Promise<string>((resolve) => {
    const server = net.createServer({ allowHalfOpen: true }, (connection) => {
      connection.end(); // as journald does
      connection.on("data", (chunk) => {
        text += chunk.toString();
      });
      connection.on("end", () => server.close(() => resolve(text)));
    });
    server.listen(socket);
  });
  await new Promise((r) => setTimeout(r, 50));
  return { socket, received, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A kernel log that is not there: these tests are about the stream socket and stderr. */
const NO_KMSG = "/nonexistent/kmsg";

describe("journalLog on the stream socket (no kernel log)", () => {
  it("escapes every control character, so a value from a file cannot forge an entry", async () => {
    const server = await fakeJournal();
    const log = journalLog({ kmsg: NO_KMSG, journalSocket: server.socket }, () => undefined);
    const hostile = "a\nb\rc\u001b[31md\u0000e\u007ff\u0085g\u009bh\u2028i\u2029j\\k\tl";
    log.error(`0000:00:03.0: excluded by /etc/vfio-autobind/${hostile}.conf:1`);
    await log.close();
    const lines = (await server.received).split("\n").slice(7);
    server.cleanup();
    expect(lines).toEqual([
      "<3>0000:00:03.0: excluded by /etc/vfio-autobind/a\\x0ab\\x0dc\\x1b[31md\\x00e\\x7ff\\x85g\\x9bh\\u2028i\\u2029j\\\\k\\x09l.conf:1",
      "",
    ]);
  });

  it("bounds a line at 2 KiB with a visible marker, however long the message", async () => {
    const server = await fakeJournal();
    const log = journalLog({ kmsg: NO_KMSG, journalSocket: server.socket }, () => undefined);
    log.info(`0000:00:03.0: ${"\u001b".repeat(1_000_000)}`);
    log.info("next");
    await log.close();
    const lines = (await server.received).split("\n").slice(7);
    server.cleanup();
    expect(lines).toHaveLength(3);
    expect(Buffer.byteLength(lines[0] as string)).toBeLessThanOrEqual(LINE_MAX_BYTES + 3);
    expect(Buffer.byteLength(lines[0] as string)).toBeGreaterThan(LINE_MAX_BYTES - 20);
    expect(lines[0]).toMatch(new RegExp(`^<6>0000:00:03\\.0: (\\\\x1b)+\\.\\.\\.\\[truncated\\]$`));
    expect(lines[0]?.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(lines[1]).toBe("<6>next");
  });

  it("escapes the lines it falls back to as well", async () => {
    const fallback: string[] = [];
    const log = journalLog({ kmsg: NO_KMSG, journalSocket: "/nonexistent/journal/stdout" }, (line) =>
      fallback.push(line),
    );
    log.error("0000:00:03.0: refused\n<3>forged");
    await log.close();
    expect(fallback).toEqual(["vfio-autobind: 0000:00:03.0: refused\\x0a<3>forged\n"]);
  });

  it("has no terminalLog: every line goes to the journal", () => {
    expect(Object.keys(journal)).not.toContain("terminalLog");
  });

  it("keeps writing after journald half-closes the stream, as it does for every stdout stream", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-journal-"));
    const socket = path.join(dir, "stdout");
    let received = "";
    const done = new Promise<void>((resolve) => {
      const server = net.createServer({ allowHalfOpen: true }, (connection) => {
        connection.end(); // journald shuts down its write side at once
        connection.on("data", (chunk) => {
          received += chunk.toString();
        });
        connection.on("end", () => server.close(() => resolve()));
      });
      server.listen(socket);
    });
    await new Promise((r) => setTimeout(r, 50));
    const fallback: string[] = [];
    const log = journalLog({ kmsg: NO_KMSG, journalSocket: socket }, (line) => fallback.push(line));
    await new Promise((r) => setTimeout(r, 200)); // the binding takes a while before the line
    log.info("0000:00:03.0: bound to vfio-pci");
    await log.close();
    await done;
    fs.rmSync(dir, { recursive: true, force: true });
    expect(fallback).toEqual([]);
    expect(received.split("\n").slice(7)).toEqual(["<6>0000:00:03.0: bound to vfio-pci", ""]);
  });

  it("falls back to stderr lines when there is no journal", async () => {
    const fallback: string[] = [];
    const log = journalLog({ kmsg: NO_KMSG, journalSocket: "/nonexistent/journal/stdout" }, (line) =>
      fallback.push(line),
    );
    log.error("0000:00:03.0: refused");
    await log.close();
    expect(fallback).toEqual(["vfio-autobind: 0000:00:03.0: refused\n"]);
  });
});
