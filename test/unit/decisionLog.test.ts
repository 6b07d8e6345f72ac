import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { journalLog } from "../../src/journal/decisionLog.js";

describe("journalLog", () => {
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
    const log = journalLog(socket, (line) => fallback.push(line));
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
    const log = journalLog("/nonexistent/journal/stdout", (line) => fallback.push(line));
    log.error("0000:00:03.0: refused");
    await log.close();
    expect(fallback).toEqual(["vfio-autobind: 0000:00:03.0: refused\n"]);
  });
});
