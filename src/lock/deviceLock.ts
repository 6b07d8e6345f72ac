/**
 * An exclusive lock per key between processes (udev starts one of us per sibling device, all
 * at once, and admins run commands beside them): a flock(2) on `<lockDir>/<key>.lock`, taken
 * by util-linux's flock(1) on a descriptor we pass it as its fd 3. The lock belongs to the
 * open file description we share, so it stays ours after flock(1) exits and goes when our
 * descriptor closes; the kernel closes it however we die (SIGKILL included), so there is
 * never a stale lock to detect or clean up.
 *
 * One way on every Node, with nothing of Node's internals: Node cannot take a flock(2)
 * itself, and every process locks the same file whatever its Node, so two Node majors on
 * one host exclude each other. The cost is one short child process per device change; an
 * event whose device is already where it belongs takes no lock (binder/bindDevice.ts).
 * Our descriptor is close-on-exec (libuv opens files so), so a modprobe we start does not
 * inherit the lock. The file is never unlinked: a newcomer would lock a fresh inode while an
 * older waiter still waits on this one. It names the holder's pid, for "held by pid N" in a
 * waiter's error.
 */
import * as fs from "node:fs";
import { describeFsError, RuntimeFailure } from "../errors.js";
import { isSafeLockKey, lockFile } from "../paths.js";
import { runCommand } from "../process/runCommand.js";

export interface LockOptions {
  readonly timeoutMs: number;
}

export interface HeldLock {
  readonly file: string;
  release(): void;
}

export class LockError extends RuntimeFailure {}

/** flock(1)'s exit status when the lock stayed busy (its default --conflict-exit-code). */
const FLOCK_CONFLICT = 1;
/** How much longer than flock's own --wait it may run before it is killed. */
const FLOCK_SAFETY_MARGIN_MS = 2_000;

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
  const file = lockFile(lockDir, key);

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
    // Ours now. Leave our pid so that a waiter that gives up can say who held it.
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, `${process.pid}\n`, 0);
  } catch (error) {
    fs.closeSync(fd); // also drops the lock if flock(1) took it just before a failure
    if (error instanceof LockError) throw error;
    throw new LockError(`cannot lock ${file}: ${describeFsError(error)}`);
  }
  // Our only descriptor of the open file description: closing it drops the flock.
  let held = true;
  return {
    file,
    release(): void {
      if (!held) return;
      held = false;
      fs.closeSync(fd);
    },
  };
}

/** The error of a lock still busy when the wait ran out. */
function busy(file: string, holder: string, timeoutMs: number): LockError {
  if (timeoutMs === 0) return new LockError(`lock ${file} is busy (held by ${holder})`);
  const seconds = Math.ceil(timeoutMs) / 1000;
  return new LockError(`timed out after ${seconds} s waiting for lock ${file} (held by ${holder})`);
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
