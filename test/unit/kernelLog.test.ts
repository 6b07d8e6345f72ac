/**
 * The udev helper's lines through the kernel log (src/journal/kernelLog.ts) and, when it
 * cannot take one, journald's stream socket, as decisionLog.ts chooses: the record's
 * format, the devices and files it accepts, the long line sent whole, and no line lost.
 * The kernel log is a stand-in file (support/fakeJournal.ts) or a node made here: the
 * host's /dev/kmsg is never opened (test/support/hostWriteGuard.cjs refuses it).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { journalLog, LINE_MAX_BYTES } from "../../src/journal/decisionLog.js";
import { isKernelLogDevice, KMSG_RECORD_MAX_BYTES, kmsgRecord } from "../../src/journal/kernelLog.js";
import { DEFAULT_PATHS } from "../../src/paths.js";
import { oneLine } from "../../src/text/safeText.js";
import { parseKmsgRecords, startFakeJournal, type FakeJournal } from "../../support/fakeJournal.js";

let journal: FakeJournal;
let work: string;

beforeEach(async () => {
  journal = await startFakeJournal();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-kmsg-"));
});

afterEach(async () => {
  await journal.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const kmsgText = (): string => fs.readFileSync(journal.kmsg, "utf8");
const streamLines = (): string[] => journal.entries.filter((e) => e.transport === "stdout").map((e) => e.message);

/** A log whose kernel log is `kmsg` and whose stream socket is the fake journal's. */
async function logThrough(kmsg: string, lines: string[]): Promise<string[]> {
  const fallback: string[] = [];
  const log = journalLog({ kmsg, journalSocket: journal.socket }, (line) => fallback.push(line));
  for (const line of lines) log.info(line);
  await log.close();
  await expect.poll(() => streamLines().length).toBe(lines.length);
  return fallback;
}

describe("the kernel log record", () => {
  it("is <LOG_USER*8+level>vfio-autobind[pid]: text, one per line: info 14, error 11", async () => {
    const log = journalLog({ kmsg: journal.kmsg, journalSocket: journal.socket });
    log.info("0000:00:03.0: bound to vfio-pci");
    log.error("0000:00:04.0: not bound: no VFIO driver");
    await log.close();
    expect(kmsgText()).toBe(
      `<14>vfio-autobind[${process.pid}]: 0000:00:03.0: bound to vfio-pci\n` +
        `<11>vfio-autobind[${process.pid}]: 0000:00:04.0: not bound: no VFIO driver\n`,
    );
    expect(journal.entries).toEqual([
      {
        identifier: "vfio-autobind",
        pid: process.pid,
        priority: 6,
        message: "0000:00:03.0: bound to vfio-pci",
        transport: "kernel",
      },
      {
        identifier: "vfio-autobind",
        pid: process.pid,
        priority: 3,
        message: "0000:00:04.0: not bound: no VFIO driver",
        transport: "kernel",
      },
    ]);
  });

  it("escapes every control character, so a value from a file can neither forge a record nor drive a terminal", async () => {
    const log = journalLog({ kmsg: journal.kmsg, journalSocket: journal.socket });
    log.error("0000:00:03.0: excluded by /etc/vfio-autobind/a\n<11>vfio-autobind[1]: forged\r\u001b[31m\u0000.conf");
    await log.close();
    expect(kmsgText()).toBe(
      `<11>vfio-autobind[${process.pid}]: 0000:00:03.0: excluded by /etc/vfio-autobind/a\\x0a<11>vfio-autobind[1]: forged\\x0d\\x1b[31m\\x00.conf\n`,
    );
  });

  it("opens the kernel log afresh for each line, so its per-open rate limit (10 lines) never drops one", async () => {
    const log = journalLog({ kmsg: journal.kmsg, journalSocket: journal.socket });
    log.info("first");
    // Another file put in its place: a line written through a descriptor kept open would miss it.
    const replaced = path.join(work, "kmsg-2");
    fs.writeFileSync(replaced, "");
    fs.renameSync(replaced, journal.kmsg);
    for (let i = 0; i < 30; i += 1) log.info(`line ${i}`);
    await log.close();
    expect(parseKmsgRecords(kmsgText()).map((e) => e.message)).toEqual(
      Array.from({ length: 30 }, (_, i) => `line ${i}`),
    );
    expect(streamLines()).toEqual([]);
  });

  it("is written whole up to the bound that every kernel takes, and never attempted beyond it", async () => {
    const prefix = Buffer.byteLength(kmsgRecord("vfio-autobind", process.pid, 6, ""));
    const fits = "a".repeat(KMSG_RECORD_MAX_BYTES - prefix);
    expect(KMSG_RECORD_MAX_BYTES).toBeLessThan(992); // EINVAL above 992 bytes before Linux 5.10
    const log = journalLog({ kmsg: journal.kmsg, journalSocket: journal.socket });
    log.info(fits);
    await log.close();
    expect(Buffer.byteLength(kmsgText())).toBe(KMSG_RECORD_MAX_BYTES);
    expect(parseKmsgRecords(kmsgText()).map((e) => e.message)).toEqual([fits]);
  });
});

describe("a line the kernel log cannot take goes to journald's stream socket", () => {
  it("when the record would be longer than the bound: whole, not cut, and the lines after it follow it", async () => {
    const prefix = Buffer.byteLength(kmsgRecord("vfio-autobind", process.pid, 6, ""));
    const long = `0000:00:03.0: ${"x".repeat(KMSG_RECORD_MAX_BYTES - prefix - 14 + 1)}`;
    const log = journalLog({ kmsg: journal.kmsg, journalSocket: journal.socket });
    log.info("before");
    log.info(long);
    log.info("after"); // short, but after a line on the stream: the journal keeps them in order
    await log.close();
    await expect.poll(() => streamLines()).toEqual([long, "after"]);
    expect(parseKmsgRecords(kmsgText()).map((e) => e.message)).toEqual(["before"]);
  });

  it("and a message up to 2 KiB reaches the stream whole, as it did before the kernel log", async () => {
    const message = `0000:00:03.0: ${"y".repeat(LINE_MAX_BYTES - 14)}`;
    expect(Buffer.byteLength(message)).toBe(LINE_MAX_BYTES);
    await logThrough(journal.kmsg, [message]);
    expect(streamLines()).toEqual([message]);
    expect(kmsgText()).toBe("");
  });

  it("when there is no kernel log (a container)", async () => {
    expect(await logThrough(path.join(work, "missing"), ["0000:00:03.0: bound to vfio-pci"])).toEqual([]);
    expect(streamLines()).toEqual(["0000:00:03.0: bound to vfio-pci"]);
  });

  it("when the kernel log is a symlink, which is not followed", async () => {
    const link = path.join(work, "kmsg");
    fs.symlinkSync(journal.kmsg, link);
    await logThrough(link, ["0000:00:03.0: bound to vfio-pci"]);
    expect(kmsgText()).toBe("");
  });

  it("when open is refused (printk_devkmsg=off gives EPERM; a FIFO nobody reads gives ENXIO)", async () => {
    const fifo = path.join(work, "kmsg");
    execFileSync("mkfifo", [fifo]);
    await logThrough(fifo, ["0000:00:03.0: bound to vfio-pci", "second"]);
    expect(streamLines()).toEqual(["0000:00:03.0: bound to vfio-pci", "second"]);
  });

  it("when the write fails (a full FIFO: EAGAIN), and every line after it too", async () => {
    const fifo = path.join(work, "kmsg");
    execFileSync("mkfifo", [fifo]);
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try {
      const chunk = Buffer.alloc(4096, 0x61);
      for (;;) {
        try {
          fs.writeSync(writer, chunk);
        } catch {
          break; // EAGAIN: the pipe is full
        }
      }
      await logThrough(fifo, ["one", "two"]);
      expect(streamLines()).toEqual(["one", "two"]);
    } finally {
      fs.closeSync(writer);
      fs.closeSync(reader);
    }
  });

  it.each([
    ["/dev/null", 1, 3],
    ["/dev/zero", 1, 5],
    ["a tty (/dev/tty)", 5, 0],
  ])("when another device is there: %s", async (_name, major, minor) => {
    const node = path.join(work, "kmsg");
    execFileSync("mknod", [node, "c", String(major), String(minor)]);
    expect(isKernelLogDevice(fs.lstatSync(node))).toBe(false);
    await logThrough(node, ["0000:00:03.0: bound to vfio-pci"]);
    expect(streamLines()).toEqual(["0000:00:03.0: bound to vfio-pci"]);
  });

  it("when a directory is there", async () => {
    await logThrough(work, ["0000:00:03.0: bound to vfio-pci"]);
  });
});

describe("the kernel log's device", () => {
  it.runIf(fs.existsSync("/dev/kmsg"))("is character device 1:11, and /dev/null and /dev/console are not", () => {
    // Only looked at, never opened.
    expect(isKernelLogDevice(fs.lstatSync("/dev/kmsg"))).toBe(true);
    expect(isKernelLogDevice(fs.lstatSync("/dev/null"))).toBe(false);
    if (fs.existsSync("/dev/console")) expect(isKernelLogDevice(fs.statSync("/dev/console"))).toBe(false);
  });

  it("is the default; under test the host's is refused, and the line goes to the journal's socket", async () => {
    expect(DEFAULT_PATHS.kmsg).toBe("/dev/kmsg");
    const openForWriting = () => fs.openSync("/dev/kmsg", fs.constants.O_WRONLY | fs.constants.O_APPEND);
    expect(openForWriting).toThrow(/test guard: refusing to open for writing \/dev\/kmsg/);
    expect(await logThrough(DEFAULT_PATHS.kmsg, ["0000:00:03.0: bound to vfio-pci"])).toEqual([]);
    expect(streamLines()).toEqual(["0000:00:03.0: bound to vfio-pci"]);
  });

  it("as a regular file is a stand-in only at a path other than the default", async () => {
    // The default path is /dev/kmsg, refused above; a regular file given as --kmsg is taken.
    await new Promise<void>((resolve) => {
      const log = journalLog({ kmsg: journal.kmsg, journalSocket: journal.socket });
      log.info("stand-in");
      void log.close().then(resolve);
    });
    expect(parseKmsgRecords(kmsgText()).map((e) => e.message)).toEqual(["stand-in"]);
  });
});

describe("every line, whatever its text, reaches exactly one place, escaped and within its bound", () => {
  it("kernel log or stream, never both, never neither (property)", async () => {
    let runs = 0;
    let sawKernel = 0;
    let sawFallback = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.boolean(),
            fc.oneof(
              fc.string({ unit: "binary", maxLength: 40 }),
              // Around the record bound, escapes (4 bytes each) and 2-4 byte characters included.
              fc.string({ unit: "binary", minLength: 200, maxLength: 1100 }),
            ),
          ),
          { maxLength: 4 },
        ),
        async (lines) => {
          runs += 1;
          fs.writeFileSync(journal.kmsg, "");
          const fallback: string[] = [];
          // No socket: what the kernel log does not take comes back through the fallback.
          const log = journalLog({ kmsg: journal.kmsg, journalSocket: path.join(work, "none") }, (line) =>
            fallback.push(line),
          );
          for (const [isError, message] of lines)
            if (isError) log.error(message);
            else log.info(message);
          await log.close();
          const records = kmsgText();
          const kernel = parseKmsgRecords(records);
          for (const record of records.split("\n").filter((r) => r !== ""))
            expect(Buffer.byteLength(`${record}\n`)).toBeLessThanOrEqual(KMSG_RECORD_MAX_BYTES);
          const expected = lines.map(([isError, message]) => ({
            level: isError ? 3 : 6,
            text: oneLine(message, 2048),
          }));
          // The kernel log holds a prefix of the lines, the fallback the rest, in order.
          expect(kernel.map((e) => ({ level: e.priority, text: e.message }))).toEqual(expected.slice(0, kernel.length));
          expect(kernel.every((e) => e.identifier === "vfio-autobind" && e.pid === process.pid)).toBe(true);
          expect(fallback).toEqual(expected.slice(kernel.length).map((e) => `vfio-autobind: ${e.text}\n`));
          if (kernel.length > 0) sawKernel += 1;
          if (fallback.length > 0) sawFallback += 1;
        },
      ),
      { numRuns: 150, seed: 11 },
    );
    expect(runs).toBe(150);
    // Both ways were really taken, in many runs.
    expect(sawKernel).toBeGreaterThan(20);
    expect(sawFallback).toBeGreaterThan(20);
  });
});
