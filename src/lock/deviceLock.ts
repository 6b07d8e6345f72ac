/**
 * An exclusive lock per key between processes (udev starts one of us per sibling device, all
 * at once). Two ways to hold it, both released by the kernel however the holder dies
 * (SIGKILL included), so there is never a stale lock to detect or clean up:
 *
 * 1. A name in Linux's abstract unix-socket namespace, bound by a socket this process holds
 *    (when this Node's libuv can bind one: 1.46, Node 20.4, and later). No process starts.
 * 2. Otherwise a flock(2) on `<key>.lock`, taken by util-linux's flock(1) on a descriptor we
 *    pass it as its fd 3: the lock belongs to the open file description we share, so it stays
 *    ours after flock(1) exits and goes when our descriptor closes. Before libuv 1.46 a name
 *    with a leading NUL byte ends at it: every key would bind the same all-zero name, one
 *    lock for all devices, which any local user could bind first (Node 18, the nodejs of
 *    Debian bookworm, has libuv 1.44). test/unit/deviceLock.test.ts runs both ways.
 *
 * The abstract name, and what today's users rely on:
 * - Released by the kernel: an abstract name lives exactly as long as the socket bound to
 *   it, and the kernel closes every descriptor of a dead process. (The descriptor is
 *   close-on-exec, so a modprobe we start does not inherit the lock.)
 * - Exclusive per key: bind(2) on a name already bound fails with EADDRINUSE, atomically.
 *   Waiting is retrying bind with a short backoff until the timeout; no queue, no child.
 *   The socket is bound and never listens: a connection to the name is refused, so none
 *   can pile up in the holder.
 * - Cheap: the socket is libuv's pipe handle, which net.Server uses underneath, taken
 *   through Node's `pipe_wrap` binding. net.Server itself costs a binding event about 10 ms
 *   under --jitless (it loads net, the stream modules, and cluster, child_process and dgram
 *   for listen()), all compiled from source; it is still used where the binding is gone or
 *   not the shape it has been since Node 0.x (`pipeHandle` checks).
 * - Safe against local users: anyone in the network namespace may bind any abstract name,
 *   and every bound name is listed in the world-readable /proc/net/unix, so a fixed or
 *   secret-but-stable name could be read while held and squatted later (a denial of
 *   service: binds time out). So the name is 128 random bits kept in `<key>.name` in the
 *   root-only lock directory (0700 dir, 0600 file, read with O_NOFOLLOW), and each holder
 *   replaces it with a fresh one before it releases: a name seen in /proc/net/unix is
 *   never used again. Having bound a name, a process holds the lock only if `<key>.name`
 *   still holds that name (else it lost a race with a release and tries again); only the
 *   holder ever rewrites the file (atomically), so two processes never both hold it.
 *   What remains: after a holder is killed before it could replace the name, a local user
 *   who read it while held could bind it first; the waiters then time out naming the dead
 *   holder's pid, and the next successful holder (after the squatter lets go) rotates it.
 * - Namespaces: abstract names are per network namespace. udevd runs in the host's; a
 *   command run in another one would not exclude udev's helpers, so it is refused when
 *   that can be seen (root can read /proc/1/ns/net; others skip the check).
 * `<key>.lock` names the holder's pid for "held by pid N" in a waiter's error, either way.
 */
import * as fs from "node:fs";
import type * as net from "node:net";
import * as util from "node:util";
import { describeFsError, RuntimeFailure } from "../errors.js";
import { writeFileAtomic } from "../files/safeFiles.js";
import { isSafeLockKey, lockFiles, refuseHostPathUnderTest } from "../paths.js";
import { loadNet } from "../process/lazyBuiltins.js";
import { runCommand } from "../process/runCommand.js";

/** How a lock is held; `defaultLockMethod` picks what this Node can do. */
export type LockMethod = "abstract-name" | "flock";

export interface LockOptions {
  readonly timeoutMs: number;
  /** By default `defaultLockMethod()`; tests hold the lock each way. */
  readonly method?: LockMethod;
}

/** An abstract name where this Node's libuv can bind one (1.46 and later), flock(1) elsewhere. */
export function defaultLockMethod(uvVersion: string = process.versions.uv ?? "0"): LockMethod {
  const [major = 0, minor = 0] = uvVersion.split(".").map(Number);
  return major > 1 || (major === 1 && minor >= 46) ? "abstract-name" : "flock";
}

export interface HeldLock {
  readonly file: string;
  release(): void;
}

export class LockError extends RuntimeFailure {}

/** Every lock name starts with this; the rest is 32 hex digits from `<key>.name`. */
const NAME_PREFIX = "\0vfio-autobind/lock/";
const NONCE = /^[0-9a-f]{32}\n$/;
/** Retry delays while the lock is busy: short at first (a bind is brief), then capped. */
const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 50;

/**
 * Takes the exclusive lock for `key` in `lockDir`, waiting up to `options.timeoutMs`
 * (0: fail at once if it is busy). `key` must match /^[A-Za-z0-9_.:-]+$/, e.g.
 * "device-0000:3b:00.2" or "group-12"; `lockDir` is created (0o700) if missing.
 */
export async function acquireLock(lockDir: string, key: string, options: LockOptions): Promise<HeldLock> {
  if (!isSafeLockKey(key)) throw new LockError(`invalid lock key ${JSON.stringify(key)}`);
  const { timeoutMs } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new LockError(`invalid lock timeout ${String(timeoutMs)} ms`);
  }
  const { pid: file, name: nameFile } = lockFiles(lockDir, key);

  refuseHostPathUnderTest(lockDir);
  try {
    fs.mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new LockError(`cannot create lock directory ${lockDir}: ${describeFsError(error)}`);
  }
  let fd: number;
  try {
    // Never truncate on open: the file may name the current holder. O_NOFOLLOW because we
    // run as root and must not be steered into opening some other file through a symlink.
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;
    fd = fs.openSync(file, flags, 0o600);
  } catch (error) {
    throw new LockError(`cannot create lock ${file}: ${describeFsError(error)}`);
  }
  if ((options.method ?? defaultLockMethod()) === "flock") return lockWithFlock(fd, file, timeoutMs);
  try {
    refuseForeignNetworkNamespace(file);
    const deadline = monotonicMs() + timeoutMs;
    let delay = FIRST_RETRY_MS;
    for (;;) {
      const nonce = currentNonce(nameFile);
      const bound = await bindName(`${NAME_PREFIX}${nonce}`, file);
      if (bound !== null) {
        if (currentNonce(nameFile) === nonce) {
          ownedBy(fd);
          return heldName(file, nameFile, bound);
        }
        bound.close(); // a release rotated the name between our read and our bind
        continue;
      }
      const left = deadline - monotonicMs();
      if (left <= 0) {
        const holder = describeHolder(fd);
        // The last holder died and something else has its name: the squat described above.
        const squatted = holderGone(holder)
          ? `; ${holder} has exited, so another process holds the lock's name: remove ${nameFile} and try again`
          : "";
        throw busy(file, holder, timeoutMs, squatted);
      }
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Ours now. Leave our pid so that a waiter that gives up can say who held it. */
function ownedBy(fd: number): void {
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
}

/** The error of a lock still busy when the wait ran out. */
function busy(file: string, holder: string, timeoutMs: number, more = ""): LockError {
  if (timeoutMs === 0) return new LockError(`lock ${file} is busy (held by ${holder})${more}`);
  const seconds = Math.ceil(timeoutMs) / 1000;
  return new LockError(`timed out after ${seconds} s waiting for lock ${file} (held by ${holder})${more}`);
}

/** A held lock whose `release` runs `release` once, however often it is called. */
function heldLock(file: string, release: () => void): HeldLock {
  let held = true;
  return {
    file,
    release(): void {
      if (!held) return;
      held = false;
      release();
    },
  };
}

const heldName = (file: string, nameFile: string, bound: BoundName): HeldLock =>
  heldLock(file, () => {
    try {
      // A fresh name first, so the one that was visible while we held it is never used again.
      writeFileAtomic(nameFile, freshNonce(), { mode: 0o600 });
    } catch {
      // A defence, not what makes the lock exclusive: if the state directory cannot be
      // written now, the old name stays, and the release must still happen.
    }
    // Closing the socket frees its name at once (libuv closes the descriptor synchronously).
    bound.close();
  });

/** flock(1)'s exit status when the lock stayed busy (its default --conflict-exit-code). */
const FLOCK_CONFLICT = 1;
/** How much longer than flock's own --wait it may run before it is killed. */
const FLOCK_SAFETY_MARGIN_MS = 2_000;

/** The lock as a flock(2) on `fd` (the open `<key>.lock`), which it owns from here on. */
async function lockWithFlock(fd: number, file: string, timeoutMs: number): Promise<HeldLock> {
  try {
    // --wait takes seconds and accepts fractions; whole milliseconds keep the number plain.
    const seconds = Math.ceil(timeoutMs) / 1000;
    const mode = seconds === 0 ? ["--nonblock"] : ["--wait", String(seconds)];
    const result = await runCommand("flock", ["--exclusive", ...mode, "3"], {
      timeoutMs: Math.ceil(timeoutMs) + FLOCK_SAFETY_MARGIN_MS,
      fd3: fd,
    });
    if (result.spawnError === "ENOENT") throw new LockError("flock(1) not found; install util-linux");
    if (result.spawnError !== undefined) throw new LockError(`cannot run flock(1): ${result.spawnError}`);
    if (result.exitCode === FLOCK_CONFLICT || result.timedOut) throw busy(file, describeHolder(fd), timeoutMs);
    if (result.exitCode !== 0) {
      const said = result.stderr.split("\n").find((line) => line.trim() !== "");
      throw new LockError(`flock(1) failed on ${file}: ${said ?? result.shortMessage}`);
    }
    ownedBy(fd);
  } catch (error) {
    fs.closeSync(fd); // also drops the lock if flock(1) took it just before a failure
    if (error instanceof LockError) throw error;
    throw new LockError(`cannot lock ${file}: ${describeFsError(error)}`);
  }
  // Our only descriptor of the open file description: closing it drops the flock. The file
  // stays: unlinking it would let a newcomer lock a fresh inode while an older waiter still
  // waits on this one.
  return heldLock(file, () => fs.closeSync(fd));
}

/**
 * 128 bits from the kernel's CSPRNG. Read from /dev/urandom rather than node:crypto, which
 * would load about twenty modules (streams, ciphers) into every binding udev helper.
 */
function freshNonce(): string {
  const bytes = Buffer.alloc(16);
  const fd = fs.openSync("/dev/urandom", fs.constants.O_RDONLY);
  try {
    if (fs.readSync(fd, bytes, 0, bytes.length, null) !== bytes.length) throw new Error("short read from /dev/urandom");
  } finally {
    fs.closeSync(fd);
  }
  return `${bytes.toString("hex")}\n`;
}

/** The name in `<key>.name`, created (exclusively, so racing creators agree) when missing. */
function currentNonce(nameFile: string): string {
  for (;;) {
    const text = readNameFile(nameFile);
    if (text !== null) return text;
    try {
      writeFileAtomic(nameFile, freshNonce(), { mode: 0o600, exclusive: true });
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EEXIST") {
        throw new LockError(`cannot create lock name ${nameFile}: ${describeFsError(error)}`);
      }
    }
  }
}

/** The file's nonce; null when it does not exist. Anything but a regular file of one nonce is refused. */
function readNameFile(nameFile: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(nameFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return null;
    throw new LockError(`cannot read lock name ${nameFile}: ${describeFsError(error)}`);
  }
  try {
    const buffer = Buffer.alloc(34);
    const stat = fs.fstatSync(fd);
    const length = stat.isFile() ? fs.readSync(fd, buffer, 0, buffer.length, 0) : 0;
    const text = buffer.toString("latin1", 0, length);
    if (!NONCE.test(text)) {
      // Only root can write here and we write it atomically: someone edited it. Say which file.
      throw new LockError(`lock name ${nameFile} is not one written by vfio-autobind; remove it`);
    }
    return text.trimEnd();
  } finally {
    fs.closeSync(fd);
  }
}

/** A socket bound to a lock's name; closing it frees the name. */
interface BoundName {
  close(): void;
}

/** libuv's pipe handle as Node's `pipe_wrap` binding gives it (what net.Server wraps). */
interface PipeHandle {
  /** 0, or a negative errno (UV_EADDRINUSE when the name is taken). */
  bind(name: string): number;
  close(): void;
}
type PipeHandleClass = new (type: number) => PipeHandle;

/** The binding's Pipe class and its server type, or null when this Node has no such thing. */
function pipeHandle(): { Pipe: PipeHandleClass; server: number } | null {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding("pipe_wrap") as {
      Pipe?: unknown;
      constants?: { SERVER?: unknown };
    };
    const { Pipe, constants } = binding;
    if (typeof Pipe !== "function" || typeof constants?.SERVER !== "number") return null;
    const methods = (Pipe as { prototype?: Record<string, unknown> }).prototype;
    if (typeof methods?.["bind"] !== "function" || typeof methods["close"] !== "function") return null;
    return { Pipe: Pipe as PipeHandleClass, server: constants.SERVER };
  } catch {
    return null;
  }
}

/** A socket bound to `name`, or null when the name is taken. */
async function bindName(name: string, file: string): Promise<BoundName | null> {
  const handle = pipeHandle();
  if (handle === null) return listenOnName(name, file);
  const pipe = new handle.Pipe(handle.server);
  const status = pipe.bind(name);
  if (status === 0) return pipe;
  pipe.close();
  const code = util.getSystemErrorName(status);
  if (code === "EADDRINUSE") return null;
  throw new LockError(`cannot lock ${file}: ${code}`);
}

/** bindName through net.Server, where the pipe handle is not to be had. */
function listenOnName(name: string, file: string): Promise<BoundName | null> {
  return new Promise((resolve, reject) => {
    // Nobody has anything to say to a lock: a connection is closed as soon as it is
    // accepted, so connecting cannot pile up descriptors in the holder. (maxConnections = 0
    // would not do it: Node reads 0 as "no limit".)
    const server: net.Server = loadNet().createServer((connection) => connection.destroy());
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") resolve(null);
      else reject(new LockError(`cannot lock ${file}: ${describeFsError(error)}`));
    });
    server.listen({ path: name, backlog: 1 }, () => {
      // A forgotten release must not keep the process alive; exit releases the lock.
      server.unref();
      resolve({ close: () => server.close() });
    });
  });
}

/**
 * Abstract names exclude only within one network namespace; udevd runs in init's. Refuse a
 * lock taken from any other, when we can tell (reading init's link needs root).
 */
function refuseForeignNetworkNamespace(file: string): void {
  let ours: string;
  let init: string;
  try {
    ours = fs.readlinkSync("/proc/self/ns/net");
    init = fs.readlinkSync("/proc/1/ns/net");
  } catch {
    return;
  }
  if (ours !== init) {
    throw new LockError(
      `cannot lock ${file}: this process is in a network namespace other than init's, where the lock would not exclude udev's helpers; run it in the host's`,
    );
  }
}

/** Milliseconds on a monotonic clock (the global `performance` would load perf_hooks). */
function monotonicMs(): number {
  return process.uptime() * 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether "pid N" names a process that no longer exists. */
function holderGone(holder: string): boolean {
  const m = /^pid ([1-9][0-9]*)$/.exec(holder);
  return m !== null && !fs.existsSync(`/proc/${m[1]}`);
}

/** "pid 1234" from the lock file, when the holder has written it and it still reads as one. */
function describeHolder(fd: number): string {
  try {
    const buffer = Buffer.alloc(16);
    const text = buffer.toString("latin1", 0, fs.readSync(fd, buffer, 0, buffer.length, 0)).trim();
    if (/^[1-9][0-9]*$/.test(text)) return `pid ${text}`;
  } catch {
    // Unreadable now: fall through to the vaguer wording.
  }
  return "another process";
}
