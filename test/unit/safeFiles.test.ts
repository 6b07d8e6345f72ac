import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FileError,
  readOptionalRegularFile,
  readRegularFile,
  temporaryNameFor,
  writeFileAtomic,
} from "../../src/files/safeFiles.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-safe-files-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("readRegularFile", () => {
  it("reads a regular file, and one behind a symlink", () => {
    fs.writeFileSync(path.join(dir, "a.conf"), "[Claim]\n");
    fs.symlinkSync("a.conf", path.join(dir, "b.conf"));
    expect(readRegularFile(path.join(dir, "a.conf"), { maxBytes: 100 })).toBe("[Claim]\n");
    expect(readRegularFile(path.join(dir, "b.conf"), { maxBytes: 100 })).toBe("[Claim]\n");
  });

  it("refuses a FIFO at once instead of blocking on it", () => {
    const fifo = path.join(dir, "fifo.conf");
    execFileSync("mkfifo", [fifo]);
    expect(() => readRegularFile(fifo, { maxBytes: 100 })).toThrow(/a FIFO, not a regular file/);
  });

  it("refuses /dev/zero behind a symlink, and a directory", () => {
    fs.symlinkSync("/dev/zero", path.join(dir, "zero.conf"));
    fs.mkdirSync(path.join(dir, "d.conf"));
    expect(() => readRegularFile(path.join(dir, "zero.conf"), { maxBytes: 100 })).toThrow(/character device/);
    expect(() => readRegularFile(path.join(dir, "d.conf"), { maxBytes: 100 })).toThrow(/a directory/);
  });

  it("refuses a file over the bound without reading it", () => {
    fs.writeFileSync(path.join(dir, "big"), "x".repeat(101));
    expect(() => readRegularFile(path.join(dir, "big"), { maxBytes: 100 })).toThrow(/101 bytes, more than the 100/);
    expect(readRegularFile(path.join(dir, "big"), { maxBytes: 101 })).toHaveLength(101);
  });

  it("tells a missing file (null) from an unreadable one (FileError)", () => {
    expect(readOptionalRegularFile(path.join(dir, "none"), { maxBytes: 10 })).toBeNull();
    expect(() => readRegularFile(path.join(dir, "none"), { maxBytes: 10 })).toThrow(FileError);
  });
});

describe("writeFileAtomic", () => {
  it("replaces the file and leaves no temporary behind", () => {
    const file = path.join(dir, "sub", "record.json");
    writeFileAtomic(file, "one\n", { mode: 0o644 });
    writeFileAtomic(file, "two\n", { mode: 0o644 });
    expect(fs.readFileSync(file, "utf8")).toBe("two\n");
    expect(fs.readdirSync(path.dirname(file))).toEqual(["record.json"]);
  });

  it("never follows a symlink planted at the temporary name or at the target", () => {
    const victim = path.join(dir, "victim");
    fs.writeFileSync(victim, "precious\n");
    const file = path.join(dir, "rules");
    fs.symlinkSync(victim, temporaryNameFor(file));
    writeFileAtomic(file, "generated\n", { mode: 0o644 });
    expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    expect(fs.readFileSync(file, "utf8")).toBe("generated\n");

    fs.rmSync(file);
    fs.symlinkSync(victim, file);
    writeFileAtomic(file, "again\n", { mode: 0o644 });
    expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(false);
  });

  it("with exclusive, refuses anything already at the target, a dangling symlink included", () => {
    const file = path.join(dir, "50-claim.conf");
    fs.symlinkSync(path.join(dir, "nowhere"), file);
    expect(() => writeFileAtomic(file, "x\n", { mode: 0o644, exclusive: true })).toThrow(
      expect.objectContaining({ code: "EEXIST" }),
    );
    expect(fs.existsSync(path.join(dir, "nowhere"))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual(["50-claim.conf"]);
    fs.rmSync(file);
    writeFileAtomic(file, "x\n", { mode: 0o644, exclusive: true });
    expect(fs.readFileSync(file, "utf8")).toBe("x\n");
  });
});

describe("readRegularFile on files whose size is not known ahead", () => {
  it("reads a /proc file (size 0) whole, and still bounds it", () => {
    const text = readRegularFile("/proc/self/status", { maxBytes: 64 * 1024 });
    expect(text).toMatch(/^Name:/);
    expect(text).toMatch(/\nPid:\s+\d+/);
    expect(() => readRegularFile("/proc/self/status", { maxBytes: 100 })).toThrow(/more than the 100 bytes allowed/);
  });
});
