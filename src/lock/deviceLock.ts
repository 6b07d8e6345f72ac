/**
 * An exclusive lock per key between processes (udev starts one of us per sibling device, all
 * at once). The lock is a kernel flock(2) taken by util-linux's flock(1) on a file descriptor
 * this process opened and passed down as the child's fd 3. A flock belongs to the open file
 * description, not to the process that called flock(2), so it stays ours after flock(1) exits,
 * and the kernel drops it when our last descriptor closes, also when we are SIGKILLed: there
 * is never a stale lock to detect or clean up.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeFsError, RuntimeFailure } from "../errors.js";
import { isSafeLockKey, refuseHostPathUnderTest } from "../paths.js";
import { loadExeca } from "../process/lazyExeca.js";

export interface LockOptions {
  readonly timeoutMs: number;
  /** flock(1) path; default "flock" */
  readonly flockCommand?: string;
}

export interface HeldLock {
  readonly file: string;
  release(): void;
}

export class LockError extends RuntimeFailure {}

/** flock(1)'s exit status when the lock stayed busy (its default --conflict-exit-code). */
const FLOCK_CONFLICT = 1;

/** How much longer than flock's own --wait execa lets it run before killing it. */
const SAFETY_MARGIN_MS = 2_000;

/**
 * Takes the exclusive lock `<lockDir>/<key>.lock`, waiting up to `options.timeoutMs`
 * (0: fail at once if it is busy). `key` must match /^[A-Za-z0-9_.:-]+$/, e.g.
 * "device-0000:3b:00.2" or "group-12"; `lockDir` is created (0o700) if missing.
 */
export async function acquireLock(lockDir: string, key: string, options: LockOptions): Promise<HeldLock> {
  if (!isSafeLockKey(key)) throw new LockError(`invalid lock key ${JSON.stringify(key)}`);
  const { timeoutMs } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new LockError(`invalid lock timeout ${String(timeoutMs)} ms`);
  }
  const file = path.join(lockDir, `${key}.lock`);

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
    await runFlock(fd, file, timeoutMs, options.flockCommand ?? "flock");
    // Ours now. Leave our pid so that a waiter that gives up can say who held it.
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, `${process.pid}\n`, 0);
  } catch (error) {
    fs.closeSync(fd); // also drops the lock if flock(1) got it just before a failure
    if (error instanceof LockError) throw error;
    throw new LockError(`cannot lock ${file}: ${describeFsError(error)}`);
  }

  let held = true;
  return {
    file,
    release(): void {
      if (!held) return;
      held = false;
      // Closing our only descriptor releases the flock. The file stays: unlinking it would let
      // a newcomer lock a fresh inode while an older waiter still queues on this one.
      fs.closeSync(fd);
    },
  };
}

async function runFlock(fd: number, file: string, timeoutMs: number, flockCommand: string): Promise<void> {
  const execa = await loadExeca();
  // --wait takes seconds and accepts fractions; whole milliseconds keep the number plain.
  const seconds = Math.ceil(timeoutMs) / 1000;
  const mode = seconds === 0 ? ["--nonblock"] : ["--wait", String(seconds)];
  // execa 9's types accept only 3..9 as a descriptor number in `stdio`, but at run time it
  // hands any plain number to child_process.spawn unchanged (the tests would fail otherwise).
  const inherited = fd as 3;
  const result = await execa(flockCommand, ["--exclusive", ...mode, "3"], {
    // Our descriptor becomes the child's fd 3; flock(1) locks the open file description we share.
    stdio: ["ignore", "ignore", "pipe", inherited],
    reject: false,
    // A safety net in case flock(1) hangs past its own --wait (it should never need to fire).
    timeout: Math.ceil(timeoutMs) + SAFETY_MARGIN_MS,
  });
  if (result.exitCode === 0) return;

  const spawnCode = (result.cause as { code?: unknown } | undefined)?.code;
  if (spawnCode === "ENOENT") throw new LockError(`flock(1) not found; install util-linux`);
  if (typeof spawnCode === "string") throw new LockError(`cannot run ${flockCommand}: ${spawnCode}`);

  if (result.exitCode === FLOCK_CONFLICT || result.timedOut) {
    const holder = describeHolder(file);
    if (seconds === 0) throw new LockError(`lock ${file} is busy (held by ${holder})`);
    throw new LockError(`timed out after ${seconds} s waiting for lock ${file} (held by ${holder})`);
  }

  const firstLine = result.stderr.split("\n").find((line) => line.trim() !== "");
  const reason =
    firstLine ??
    (result.signal !== undefined ? `killed by ${result.signal}` : `exit status ${String(result.exitCode)}`);
  throw new LockError(`${flockCommand} failed on ${file}: ${reason}`);
}

/** "pid 1234" from the lock file, when the holder has written it and it still reads as one. */
function describeHolder(file: string): string {
  try {
    const text = fs.readFileSync(file, "utf8").trim();
    if (/^[1-9][0-9]*$/.test(text)) return `pid ${text}`;
  } catch {
    // Unreadable now: fall through to the vaguer wording.
  }
  return "another process";
}
