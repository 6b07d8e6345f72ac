/**
 * An exclusive lock per key between processes (udev starts one of us per sibling device, all
 * at once), taken without starting a process: Node has no flock(2), and running flock(1) cost
 * every binding event a fork, an exec and loading execa under `node --jitless`.
 *
 * The lock is a name in Linux's abstract unix-socket namespace, bound by a listening socket
 * this process holds. What today's users rely on, and how this keeps it:
 * - Released by the kernel however the holder dies: an abstract name lives exactly as long as
 *   the socket bound to it, and the kernel closes every descriptor of a dead process, SIGKILL
 *   included. There is never a stale lock to detect or clean up. (The descriptor is
 *   close-on-exec, so a modprobe we start does not inherit the lock.)
 * - Exclusive per key: bind(2) on a name already bound fails with EADDRINUSE, atomically.
 *   Waiting is retrying bind with a short backoff until the timeout; no queue, no child.
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
 * `<key>.lock` names the holder's pid for "held by pid N" in a waiter's error, as before.
 */
import * as fs from "node:fs";
import type * as net from "node:net";
import { describeFsError, RuntimeFailure } from "../errors.js";
import { writeFileAtomic } from "../files/safeFiles.js";
import { isSafeLockKey, lockFiles, refuseHostPathUnderTest } from "../paths.js";
import { loadNet } from "../process/lazyNet.js";

export interface LockOptions {
  readonly timeoutMs: number;
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
  try {
    refuseForeignNetworkNamespace(file);
    const deadline = monotonicMs() + timeoutMs;
    let delay = FIRST_RETRY_MS;
    for (;;) {
      const nonce = currentNonce(nameFile);
      const server = await bindName(nonce, file);
      if (server !== null) {
        if (currentNonce(nameFile) === nonce) {
          // Ours now. Leave our pid so that a waiter that gives up can say who held it.
          fs.ftruncateSync(fd, 0);
          fs.writeSync(fd, `${process.pid}\n`, 0);
          return heldLock(file, nameFile, server);
        }
        server.close(); // a release rotated the name between our read and our bind
        continue;
      }
      const left = deadline - monotonicMs();
      if (left <= 0) {
        const holder = describeHolder(fd);
        // The last holder died and something else has its name: the squat described above.
        const squatted = holderGone(holder)
          ? `; ${holder} has exited, so another process holds the lock's name: remove ${nameFile} and try again`
          : "";
        if (timeoutMs === 0) throw new LockError(`lock ${file} is busy (held by ${holder})${squatted}`);
        const seconds = Math.ceil(timeoutMs) / 1000;
        throw new LockError(`timed out after ${seconds} s waiting for lock ${file} (held by ${holder})${squatted}`);
      }
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function heldLock(file: string, nameFile: string, server: net.Server): HeldLock {
  let held = true;
  return {
    file,
    release(): void {
      if (!held) return;
      held = false;
      try {
        // A fresh name first, so the one that was visible while we held it is never used again.
        writeFileAtomic(nameFile, freshNonce(), { mode: 0o600 });
      } catch {
        // A defence, not what makes the lock exclusive: if the state directory cannot be
        // written now, the old name stays, and the release must still happen.
      }
      // Closing the socket frees its name at once (libuv closes the descriptor synchronously).
      server.close();
    },
  };
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

/** A listening socket bound to the nonce's name, or null when the name is taken. */
function bindName(nonce: string, file: string): Promise<net.Server | null> {
  return new Promise((resolve, reject) => {
    // Nobody has anything to say to a lock: a connection is closed as soon as it is
    // accepted, so connecting cannot pile up descriptors in the holder. (maxConnections = 0
    // would not do it: Node reads 0 as "no limit".)
    // `net` is loaded here, when a lock is taken (a binding event), not when every udev event starts.
    const server = loadNet().createServer((connection) => connection.destroy());
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") resolve(null);
      else reject(new LockError(`cannot lock ${file}: ${describeFsError(error)}`));
    });
    server.listen({ path: `${NAME_PREFIX}${nonce}`, backlog: 1 }, () => {
      // A forgotten release must not keep the process alive; exit releases the lock.
      server.unref();
      resolve(server);
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

/** "pid 1234" from the lock file, when the holder has written it and it still reads as one. */
/** Whether "pid N" names a process that no longer exists. */
function holderGone(holder: string): boolean {
  const m = /^pid ([1-9][0-9]*)$/.exec(holder);
  return m !== null && !fs.existsSync(`/proc/${m[1]}`);
}

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
