/**
 * The udev program's V8 code cache (src/entry/codeCache.ts): written once an event is done,
 * taken back on the next, and trusted only when it is exactly what we write (a regular file
 * of ours, mode 0600, in a directory of ours, never through a symlink, the same bytes as its
 * check copy), and dropped once a process died using it. Each test compiles a source of its
 * own, so V8's in-process compilation cache never answers for the file.
 * That a second process really takes the cache is tested on the bundle (test/bundle).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type EmbeddedProgram, loadWithCodeCache } from "../../src/entry/codeCache.js";
import { statePaths } from "../../src/paths.js";

const KEY = "0123456789abcdef";
let work: string;
let stateDir: string;
let sources = 0;

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-codecache-"));
  stateDir = path.join(work, "state");
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

/** A program of its own for each call (unless `same` is given), with one export that runs code. */
function program(key = KEY, same?: EmbeddedProgram): EmbeddedProgram {
  if (same !== undefined) return { ...same, key };
  sources += 1;
  return {
    source: `(function (exports, require, module, __filename, __dirname) {'use strict';/*${process.pid}-${sources}-${Date.now()}*/
      exports.describe = (n) => require("node:path").join("/tmp", String(n * 6)) + " " + __filename;
    })`,
    key,
    filename: path.join(work, "bundle.js"),
    require: createRequire(import.meta.url),
  };
}

const cacheFiles = (key = KEY) => statePaths(stateDir).codeCache(key);
const cacheFile = (key = KEY): string => cacheFiles(key).cache;
type Exports = { describe(n: number): string };

/** A program of its own whose cache a first run has written. */
function cachedProgram(): EmbeddedProgram {
  const first = program();
  loadWithCodeCache<Exports>(first, stateDir).saveCache();
  return first;
}

describe("the udev program's code cache", () => {
  it("runs the program without a cache, then writes one (0600, in a 0700 directory) once it is done", () => {
    const loaded = loadWithCodeCache<Exports>(program(), stateDir);
    expect(loaded.cacheAccepted).toBe(false);
    expect(loaded.exports.describe(7)).toBe(`/tmp/42 ${path.join(work, "bundle.js")}`);
    expect(fs.existsSync(cacheFile())).toBe(false);
    loaded.saveCache();
    expect(fs.statSync(cacheFile()).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(cacheFile())).mode & 0o777).toBe(0o700);
    expect(fs.statSync(cacheFile()).size).toBeGreaterThan(0);
  });

  it("takes back the cache it wrote and leaves the file as it is", () => {
    const first = cachedProgram();
    const before = fs.statSync(cacheFile());
    const again = loadWithCodeCache<Exports>(program(KEY, first), stateDir);
    expect(again.cacheAccepted).toBe(true);
    expect(again.exports.describe(2)).toBe(`/tmp/12 ${path.join(work, "bundle.js")}`);
    again.saveCache();
    expect(fs.statSync(cacheFile()).ino).toBe(before.ino);
  });

  it("replaces a cache V8 rejects, and the program still runs", () => {
    fs.mkdirSync(path.dirname(cacheFile()), { recursive: true, mode: 0o700 });
    fs.writeFileSync(cacheFile(), Buffer.alloc(4096, 0x5a), { mode: 0o600 });
    fs.writeFileSync(cacheFiles().check, Buffer.alloc(4096, 0x5a), { mode: 0o600 });
    const loaded = loadWithCodeCache<Exports>(program(), stateDir);
    expect(loaded.cacheAccepted).toBe(false);
    expect(loaded.exports.describe(1)).toMatch(/^\/tmp\/6 /);
    loaded.saveCache();
    expect(fs.readFileSync(cacheFile()).equals(Buffer.alloc(4096, 0x5a))).toBe(false);
  });

  it("never reads a cache through a symlink, and replaces the link itself, not its target", () => {
    const first = cachedProgram();
    const elsewhere = path.join(work, "elsewhere.v8");
    fs.renameSync(cacheFile(), elsewhere);
    fs.symlinkSync(elsewhere, cacheFile());
    const target = fs.readFileSync(elsewhere);
    const loaded = loadWithCodeCache<Exports>(program(KEY, first), stateDir);
    expect(loaded.cacheAccepted).toBe(false);
    loaded.saveCache();
    expect(fs.lstatSync(cacheFile()).isFile()).toBe(true);
    expect(fs.readFileSync(elsewhere).equals(target)).toBe(true);
  });

  it("does not read a cache that others can write, or one in a directory others can write", () => {
    const first = cachedProgram();
    fs.chmodSync(cacheFile(), 0o620);
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(false);
    fs.chmodSync(cacheFile(), 0o600);
    fs.chmodSync(path.dirname(cacheFile()), 0o777);
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(false);
    fs.chmodSync(path.dirname(cacheFile()), 0o700);
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(true);
  });

  it("neither reads nor writes through a cache directory that is a symlink", () => {
    const first = cachedProgram();
    const moved = path.join(work, "moved-cache");
    fs.renameSync(path.dirname(cacheFile()), moved);
    fs.symlinkSync(moved, path.dirname(cacheFile()));
    const loaded = loadWithCodeCache<Exports>(program(KEY, first), stateDir);
    expect(loaded.cacheAccepted).toBe(false);
    for (const file of [cacheFile(), cacheFiles().check]) fs.rmSync(path.join(moved, path.basename(file)));
    loaded.saveCache();
    expect(fs.readdirSync(moved)).toEqual([]);
  });

  it("removes older builds' caches when it writes one, and nothing else", () => {
    const dir = path.dirname(cacheFile());
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const suffix of ["v8", "check", "in-use-1"])
      fs.writeFileSync(path.join(dir, `udev-fedcba9876543210.${suffix}`), "old");
    fs.writeFileSync(path.join(dir, "notes.txt"), "not ours to remove");
    loadWithCodeCache<Exports>(program(), stateDir).saveCache();
    expect(fs.readdirSync(dir).sort()).toEqual(
      ["notes.txt", path.basename(cacheFile()), path.basename(cacheFiles().check)].sort(),
    );
  });

  it("does not run a cache compiled from another source of the same length: it is not its check copy's", () => {
    // V8 checks only the source's length: this cache would run the other program's code.
    const theirs = program();
    const mine = program("fedcba9876543210");
    const forged = { ...theirs, source: theirs.source.replace("n * 6", "n * 9") };
    expect(forged.source.length).toBe(theirs.source.length);
    loadWithCodeCache<Exports>({ ...forged, key: KEY }, stateDir).saveCache();
    fs.copyFileSync(cacheFile(), cacheFile(mine.key));
    const loaded = loadWithCodeCache<Exports>({ ...theirs, key: mine.key }, stateDir);
    expect(loaded.cacheAccepted).toBe(false);
    expect(loaded.exports.describe(1)).toMatch(/^\/tmp\/6 /);
  });

  it("uses a cache only while it is the same, byte for byte, as its check copy", () => {
    const first = cachedProgram();
    const written = fs.readFileSync(cacheFile());
    const damaged = Buffer.from(written);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1);
    fs.writeFileSync(cacheFiles().check, damaged);
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(false);
    fs.rmSync(cacheFiles().check);
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(false);
    fs.writeFileSync(cacheFiles().check, written);
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(true);
  });

  it("marks the cache in use while the program runs with it, and not after", () => {
    const first = cachedProgram();
    const dir = path.dirname(cacheFile());
    const seen = loadWithCodeCache<Exports>(program(KEY, first), stateDir);
    expect(seen.cacheAccepted).toBe(true);
    expect(fs.existsSync(cacheFiles().inUse(process.pid))).toBe(true);
    seen.saveCache();
    expect(fs.readdirSync(dir).filter((name) => name.includes("in-use"))).toEqual([]);
  });

  it("drops the cache when a process died using it, compiles without it, and writes a new one", () => {
    const first = cachedProgram();
    // A pid that has just exited: its marker is what a crash in the middle of a run leaves.
    const dead = spawnSync("true").pid;
    fs.writeFileSync(cacheFiles().inUse(dead), "", { mode: 0o600 });
    const loaded = loadWithCodeCache<Exports>(program(KEY, first), stateDir);
    expect(loaded.cacheAccepted).toBe(false);
    expect(loaded.exports.describe(2)).toMatch(/^\/tmp\/12 /);
    expect([cacheFile(), cacheFiles().check, cacheFiles().inUse(dead)].filter((f) => fs.existsSync(f))).toEqual([]);
    loaded.saveCache();
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(true);
  });

  it("leaves the cache to a process that is using it now", () => {
    const first = cachedProgram();
    fs.writeFileSync(cacheFiles().inUse(process.ppid), "", { mode: 0o600 });
    expect(loadWithCodeCache<Exports>(program(KEY, first), stateDir).cacheAccepted).toBe(true);
    expect(fs.existsSync(cacheFiles().inUse(process.ppid))).toBe(true);
  });

  it("leaves a cache another event wrote meanwhile as it is", () => {
    const mine = loadWithCodeCache<Exports>(program(), stateDir);
    const theirs = loadWithCodeCache<Exports>(program(), stateDir);
    theirs.saveCache();
    const written = fs.statSync(cacheFile());
    mine.saveCache();
    expect(fs.statSync(cacheFile()).ino).toBe(written.ino);
  });

  it("uses no cache file for a key that is not 16 hex digits, or without a state directory", () => {
    const odd = loadWithCodeCache<Exports>(program("../../etc/passwd"), stateDir);
    odd.saveCache();
    expect(odd.exports.describe(3)).toMatch(/^\/tmp\/18 /);
    const none = loadWithCodeCache<Exports>(program(), null);
    none.saveCache();
    expect(fs.existsSync(stateDir)).toBe(false);
  });
});
