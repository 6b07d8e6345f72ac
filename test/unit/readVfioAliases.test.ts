import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_SKIPPED_DETAIL, SKIPPED_TEXT_LENGTH } from "../../src/alias/aliasRecords.js";
import { parseModalias } from "../../src/alias/modalias.js";
import { rankCandidates } from "../../src/alias/rankCandidates.js";
import { readVfioAliases } from "../../src/kmod/readVfioAliases.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-read-aliases-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const GENERIC = "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci";
const VIRTIO_NET = parseModalias("pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00");

describe("readVfioAliases on hostile index files", () => {
  it("reads 150,000 vfio_pci lines without overflowing the stack", () => {
    const lines = Array.from({ length: 150_000 }, (_, i) => `alias vfio_pci:v0000${i}d*sv*sd*bc*sc*i* m${i}`);
    fs.writeFileSync(path.join(dir, "modules.alias"), [GENERIC, ...lines].join("\n"));
    fs.writeFileSync(path.join(dir, "modules.builtin.modinfo"), "x.alias=vfio_pci:v1*\0");
    const set = readVfioAliases(dir, { lineNumbers: false });
    expect(set.aliases).toHaveLength(150_002);
    expect(set.warnings).toEqual([]);
  });

  it("keeps the first malformed lines in detail, counts all of them, and keeps each short", () => {
    const bad = Array.from({ length: 150_000 }, (_, i) => `alias vfio_pci:${"x".repeat(i === 0 ? 500 : 1)} m ${i}`);
    fs.writeFileSync(path.join(dir, "modules.alias"), [GENERIC, ...bad].join("\n"));
    const set = readVfioAliases(dir, { lineNumbers: true });
    expect(set.skippedCount).toBe(150_000);
    expect(set.skipped).toHaveLength(MAX_SKIPPED_DETAIL);
    expect(set.skipped[0]?.origin).toEqual({ file: path.join(dir, "modules.alias"), line: 2 });
    expect(set.skipped[0]?.text).toHaveLength(SKIPPED_TEXT_LENGTH);
    expect(set.warnings).toEqual([
      {
        kind: "malformed-lines",
        message: `150000 malformed vfio_pci line(s) skipped in ${dir} (run explain for each one)`,
      },
    ]);
  });

  it("skips a 1 MB pattern with its line and reason, and still ranks every device", () => {
    const huge = `vfio_pci:${"*".repeat(1024 * 1024)}`;
    fs.writeFileSync(path.join(dir, "modules.alias"), `${GENERIC}\nalias ${huge} huge_vfio_pci\n`);
    const set = readVfioAliases(dir);
    expect(set.skipped.map((s) => [s.origin.line, s.reason])).toEqual([
      [2, `pattern is ${huge.length} characters long, more than the 512 allowed`],
    ]);
    expect(rankCandidates(VIRTIO_NET, set.aliases).map((c) => c.module)).toEqual(["vfio_pci"]);
  });

  it("refuses a FIFO named modules.alias at once, and offers the generic module", () => {
    const fifo = path.join(dir, "modules.alias");
    execFileSync("mkfifo", [fifo]);
    // A writer that holds the FIFO open for a second: a blocking read would wait for it
    // and then see an empty index instead of refusing the FIFO.
    const writer = spawn("sh", ["-c", `exec 3>"$1"; sleep 1`, "sh", fifo], { stdio: "ignore" });
    try {
      const set = readVfioAliases(dir);
      expect(set.fallback).toBe(true);
      expect(set.warnings).toEqual([
        {
          kind: "index-unreadable",
          message: `${fifo}: unreadable: a FIFO, not a regular file; not read; offering only the generic vfio_pci module`,
        },
      ]);
      expect(set.aliases.map((a) => a.module)).toEqual(["vfio_pci"]);
    } finally {
      writer.kill();
    }
  });

  it("refuses /dev/zero behind modules.builtin.modinfo with a warning instead of reading forever", () => {
    fs.writeFileSync(path.join(dir, "modules.alias"), `${GENERIC}\n`);
    fs.symlinkSync("/dev/zero", path.join(dir, "modules.builtin.modinfo"));
    const set = readVfioAliases(dir);
    expect(set.aliases.map((a) => a.module)).toEqual(["vfio_pci"]);
    expect(set.warnings.map((w) => w.kind)).toEqual(["index-unreadable"]);
    expect(set.warnings[0]?.message).toContain("a character device, not a regular file");
  });
});
