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
 *   meets an old build's cache. Old builds' files are removed when a new one is written;
 * - V8 does not check the payload either (its checksum is verified only in debug builds): a
 *   damaged payload behind an intact header crashes the process (exit 133), and a payload
 *   compiled from another source of the same length runs as if it were ours. So the cache
 *   is used only when it is byte for byte the copy written beside it after it (`.check`,
 *   held to the same rules). A copy rather than a digest: a sha256 needs node:crypto, about
 *   12 ms of loading per event under --jitless, more than the cache saves; a digest in
 *   JavaScript about 3 ms; comparing the copy, a twentieth of one;
 * - a process about to compile with the cache leaves `.in-use-<pid>` beside it and removes it
 *   when done (or exits). One found for a process that is gone died using the cache: the
 *   cache is dropped and this event compiles without it, so a cache that crashes costs one
 *   event, not all of them.
 * A missing, refused or rejected cache costs the event the compile it pays without one, and
 * is written once the event is done; a cache that cannot be written changes nothing else.
 * /run is empty at boot, so the first events of a boot compile and write it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as vm from "node:vm";
import { writeFileAtomic } from "../files/safeFiles.js";
import {
  codeCacheUser,
  isCodeCacheFileName,
  isSafeCodeCacheKey,
  refuseHostPathUnderTest,
  statePaths,
} from "../paths.js";

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

type CacheFiles = ReturnType<ReturnType<typeof statePaths>["codeCache"]>;

/** Compiles and runs `program`, with the cache in `stateDir` when there is a good one. */
export function loadWithCodeCache<Exports>(program: EmbeddedProgram, stateDir: string | null): LoadedProgram<Exports> {
  const files =
    stateDir !== null && isSafeCodeCacheKey(program.key) ? statePaths(stateDir).codeCache(program.key) : null;
  if (files !== null) dropIfLastUseDied(files, program.key);
  // What was at the cache's name, trusted or not: saveCache replaces it only if it is still there.
  const before = files === null ? null : lstatOrNull(files.cache);
  const found = files === null ? null : readCheckedCache(files);
  const marker = found === null || files === null ? null : markInUse(files);
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
      marker?.remove();
      if (files === null || cacheAccepted) return;
      try {
        // Another event (they start together at boot) may have written it meanwhile.
        if (!sameFile(lstatOrNull(files.cache), before)) return;
        writeCache(files, script.createCachedData());
      } catch {
        // No cache: the next event compiles, as this one did.
      }
    },
  };
}

/**
 * A process that died with the cache in use (its marker is there, it is not) may have died
 * of it: the cache goes, and its marker. A marker whose process still runs is another event
 * using it now.
 */
function dropIfLastUseDied(files: CacheFiles, key: string): void {
  const dir = path.dirname(files.cache);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = codeCacheUser(key, name);
    if (pid === null || pid === process.pid || isRunning(pid)) continue;
    try {
      refuseHostPathUnderTest(dir);
      fs.rmSync(files.cache, { force: true });
      fs.rmSync(files.check, { force: true });
      fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // Cannot remove them: readCheckedCache still refuses what is not ours.
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as { code?: unknown }).code === "EPERM";
  }
}

/** Leaves `.in-use-<pid>` while this process runs with the cache; removed when done or at exit. */
function markInUse(files: CacheFiles): { remove(): void } | null {
  const marker = files.inUse(process.pid);
  try {
    refuseHostPathUnderTest(marker);
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    fs.closeSync(fs.openSync(marker, flags, 0o600));
  } catch {
    return null; // unmarked, it stays usable: a marker is what lets a crash be seen, not a lock
  }
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    process.removeListener("exit", remove);
    try {
      fs.rmSync(marker, { force: true });
    } catch {
      // left behind: the next event takes it for a crash and compiles once without the cache
    }
  };
  // An exit that skips saveCache (the helper's backstop) must not look like a crash.
  process.once("exit", remove);
  return { remove };
}

/** The cache's bytes when they are exactly those of its `.check` copy; null otherwise. */
function readCheckedCache(files: CacheFiles): Buffer | null {
  const cache = readTrustedCache(files.cache);
  if (cache === null) return null;
  const check = readTrustedCache(files.check);
  return check !== null && check.equals(cache) ? cache : null;
}

/** The file's bytes, or null when it is missing or anything about it is not as we write it. */
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

/** The cache, then its check copy: a reader between the two finds them unequal and compiles without. */
function writeCache(files: CacheFiles, bytes: Buffer): void {
  const dir = path.dirname(files.cache);
  refuseHostPathUnderTest(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isTrustedDirectory(dir)) return;
  writeFileAtomic(files.cache, bytes, { mode: 0o600 });
  writeFileAtomic(files.check, bytes, { mode: 0o600 });
  // Other builds' files, their in-use markers too: a process of theirs still running only finds its marker gone.
  const ours = `${path.basename(files.cache, ".v8")}.`;
  for (const name of fs.readdirSync(dir)) {
    if (isCodeCacheFileName(name) && !name.startsWith(ours)) fs.rmSync(path.join(dir, name), { force: true });
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
