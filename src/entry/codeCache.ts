/**
 * The udev program, compiled with a V8 code cache. udev starts a fresh `node --jitless` for
 * every claimed device, and without a JIT most of an event's own time is V8 parsing and
 * compiling to bytecode the functions it runs, the same ones every time. V8 can save that
 * bytecode (vm.Script#createCachedData, taken after the program ran, so it holds every
 * function the event compiled) and accept it on the next compile of the same source by the
 * same V8 with the same flags. `npm run bench` puts the saving at 5 to 8 ms an event.
 *
 * The cache is code, so it is trusted only as much as the program file itself:
 * - it lives in the state directory (/run/vfio-autobind, root's alone), is read only from a
 *   regular file that is not a symlink, owned by this user and writable by no one else, in
 *   a directory that is the same, and is written with writeFileAtomic (O_EXCL|O_NOFOLLOW
 *   temporary, rename);
 * - V8 checks its own version, its flags and the source's length, not the source's text, so
 *   the file's name carries a hash of the program (build.mjs computes it): a new build never
 *   meets an old build's cache. Old builds' files are removed when a new one is written.
 * A missing, refused or rejected cache costs the event the compile it pays without one, and
 * is written once the event is done; a cache that cannot be written changes nothing else.
 * /run is empty at boot, so the first events of a boot compile and write it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as vm from "node:vm";
import { writeFileAtomic } from "../files/safeFiles.js";
import { isCodeCacheFileName, isSafeCodeCacheKey, refuseHostPathUnderTest, statePaths } from "../paths.js";

/** A CommonJS program carried inside the bundle (build.mjs), as the bundle hands it over. */
export interface EmbeddedProgram {
  /** `(function (exports, require, module, __filename, __dirname) {...})`. */
  readonly source: string;
  /** 16 hex digits of the source's SHA-256: the cache file's name. */
  readonly key: string;
  /** The bundle's path and its `require`, which the program's code uses as its own. */
  readonly filename: string;
  readonly require: NodeJS.Require;
}

export interface LoadedProgram<Exports> {
  readonly exports: Exports;
  /** Whether V8 took the cache (false: none, refused, or rejected by V8). */
  readonly cacheAccepted: boolean;
  /**
   * Writes the cache when V8 did not take one. Call it when the program is done, so that the
   * cache holds every function it ran. Never throws: a cache is only ever a saving.
   */
  saveCache(): void;
}

/** Far above any real cache (about 150 KB); a larger file is not read. */
const MAX_CACHE_BYTES = 16 * 1024 * 1024;

/** Compiles and runs `program`, with the cache in `stateDir` when there is a good one. */
export function loadWithCodeCache<Exports>(program: EmbeddedProgram, stateDir: string | null): LoadedProgram<Exports> {
  const file =
    stateDir !== null && isSafeCodeCacheKey(program.key) ? statePaths(stateDir).codeCache(program.key) : null;
  // What was at the cache's name, trusted or not: saveCache replaces it only if it is still there.
  const before = file === null ? null : lstatOrNull(file);
  const found = file === null ? null : readTrustedCache(file);
  const script = new vm.Script(program.source, {
    filename: program.filename,
    ...(found !== null ? { cachedData: found } : {}),
  });
  const cacheAccepted = found !== null && script.cachedDataRejected === false;
  const module = { exports: {} as Exports };
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  wrapper(module.exports, program.require, module, program.filename, path.dirname(program.filename));
  return {
    exports: module.exports,
    cacheAccepted,
    saveCache(): void {
      if (file === null || cacheAccepted) return;
      try {
        // Another event (they start together at boot) may have written it meanwhile.
        if (!sameFile(lstatOrNull(file), before)) return;
        writeCache(file, script.createCachedData());
      } catch {
        // No cache: the next event compiles, as this one did.
      }
    },
  };
}

/** The cache file's bytes, or null when it is missing or anything about it is not as we write it. */
function readTrustedCache(file: string): Buffer | null {
  if (!isTrustedDirectory(path.dirname(file))) return null;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || !isOurs(stat) || stat.size === 0 || stat.size > MAX_CACHE_BYTES) return null;
    const bytes = Buffer.alloc(stat.size);
    let length = 0;
    while (length < bytes.length) {
      const n = fs.readSync(fd, bytes, length, bytes.length - length, null);
      if (n === 0) return null; // shorter than it said: not a file we finished writing
      length += n;
    }
    return bytes;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function writeCache(file: string, bytes: Buffer): void {
  const dir = path.dirname(file);
  refuseHostPathUnderTest(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isTrustedDirectory(dir)) return;
  writeFileAtomic(file, bytes, { mode: 0o600 });
  for (const name of fs.readdirSync(dir)) {
    if (isCodeCacheFileName(name) && name !== path.basename(file)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** A real directory (not a symlink to one) that only this user can write. */
function isTrustedDirectory(dir: string): boolean {
  const stat = lstatOrNull(dir);
  return stat !== null && stat.isDirectory() && isOurs(stat);
}

/** Owned by this process's user and writable by no one else. */
function isOurs(stat: fs.Stats): boolean {
  return stat.uid === process.geteuid?.() && (stat.mode & 0o022) === 0;
}

function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch {
    return null;
  }
}

const sameFile = (a: fs.Stats | null, b: fs.Stats | null): boolean =>
  a === null || b === null ? a === b : a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs;
