/**
 * The two ways vfio-autobind touches files it does not own the contents of, so every reader
 * and writer gets the same guarantees:
 *
 * - `readRegularFile` reads only a regular file, up to a size bound. It opens with
 *   O_NONBLOCK so that a FIFO or a device planted under a config or index name cannot hang
 *   the udev helper, then checks with fstat what it opened (after following any symlink,
 *   so an admin's symlinked file still works while `/dev/zero` does not).
 * - `writeFileAtomic` writes a temporary file opened with O_CREAT|O_EXCL|O_NOFOLLOW (a
 *   planted symlink or file at that name is never followed or truncated), fsyncs it and
 *   renames it over the target: a crash leaves the old file or the new one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeFsError, errnoCode, RuntimeFailure } from "../errors.js";

/** A file that is not what it should be: not regular, too large, unreadable. */
export class FileError extends RuntimeFailure {
  constructor(
    readonly file: string,
    /** What is wrong, without the file name: "a FIFO, not a regular file; not read". */
    readonly problem: string,
    /** The errno code when the failure came from the system (ENOENT, EACCES, ...). */
    readonly code?: string,
    /** The line an admin reads; by default `<file>: <problem>`. */
    message = `${file}: ${problem}`,
  ) {
    super(message);
  }
}

const readFailure = (file: string, error: unknown): FileError =>
  new FileError(
    file,
    `cannot read: ${describeFsError(error)}`,
    errnoCode(error),
    `cannot read ${file}: ${describeFsError(error)}`,
  );

/** A first read large enough for a /proc file, whose size reads as 0. */
const MIN_READ_BYTES = 4096;

export interface ReadLimits {
  /** Larger files are refused with a FileError, never read. */
  readonly maxBytes: number;
  /** "utf8" for text an admin writes, "latin1" for kernel index files (ASCII; never fails to decode). */
  readonly encoding?: BufferEncoding;
}

function describeType(stat: fs.Stats): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isSocket()) return "a socket";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/** Reads a regular file of at most `limits.maxBytes`; throws FileError (with `code` ENOENT when missing). */
export function readRegularFile(file: string, limits: ReadLimits): string {
  return readRegularBytes(file, limits).toString(limits.encoding ?? "utf8");
}

/** Like readRegularFile, but null when the file does not exist. */
export function readOptionalRegularFile(file: string, limits: ReadLimits): string | null {
  return readOptionalRegularBytes(file, limits)?.toString(limits.encoding ?? "utf8") ?? null;
}

/** readOptionalRegularFile's bytes, undecoded: for index files searched for a few records. */
export function readOptionalRegularBytes(file: string, limits: { readonly maxBytes: number }): Buffer | null {
  try {
    return readRegularBytes(file, limits);
  } catch (error) {
    if (error instanceof FileError && error.code === "ENOENT") return null;
    throw error;
  }
}

function readRegularBytes(file: string, limits: { readonly maxBytes: number }): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (error) {
    throw readFailure(file, error);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new FileError(file, `${describeType(stat)}, not a regular file; not read`);
    if (stat.size > limits.maxBytes) {
      throw new FileError(file, `${stat.size} bytes, more than the ${limits.maxBytes} allowed; not read`);
    }
    // Read to the end, never past one byte over the bound: a file that grows while we read
    // is refused too, and a /proc file (which reports a size of 0) is read whole.
    let buffer = Buffer.alloc(Math.min(Math.max(stat.size, MIN_READ_BYTES), limits.maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > limits.maxBytes) {
          throw new FileError(file, `more than the ${limits.maxBytes} bytes allowed; not read`);
        }
        const larger = Buffer.alloc(Math.min(buffer.length * 2, limits.maxBytes + 1));
        buffer.copy(larger);
        buffer = larger;
      }
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > limits.maxBytes) throw new FileError(file, `more than the ${limits.maxBytes} bytes allowed; not read`);
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof FileError) throw error;
    throw readFailure(file, error);
  } finally {
    fs.closeSync(fd);
  }
}

export interface WriteOptions {
  readonly mode: number;
  /** Fail with code EEXIST instead of replacing a file (or anything else) already at `file`. */
  readonly exclusive?: boolean;
  /** Mode for the parent directory when it has to be created. */
  readonly dirMode?: number;
}

const TEMPORARY_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** The temporary name next to `file` that writeFileAtomic uses (tests plant things there). */
export function temporaryNameFor(file: string): string {
  return `${file}.${process.pid}.tmp`;
}

function openTemporary(temporary: string, mode: number): number {
  try {
    return fs.openSync(temporary, TEMPORARY_FLAGS, mode);
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") throw error;
  }
  // Left by a process that had our pid and died, or planted. unlink removes a symlink
  // itself, never its target, and fails on a directory; then O_EXCL again.
  fs.unlinkSync(temporary);
  return fs.openSync(temporary, TEMPORARY_FLAGS, mode);
}

/** Replaces `file` with `text` (or bytes) atomically, never following a symlink; throws FileError. */
export function writeFileAtomic(file: string, text: string | Uint8Array, options: WriteOptions): void {
  const temporary = temporaryNameFor(file);
  let created = false;
  try {
    fs.mkdirSync(path.dirname(file), {
      recursive: true,
      ...(options.dirMode !== undefined ? { mode: options.dirMode } : {}),
    });
    const fd = openTemporary(temporary, options.mode);
    created = true;
    try {
      if (typeof text === "string") fs.writeSync(fd, text);
      else fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (options.exclusive === true) {
      // link(2) fails with EEXIST on anything at `file`, a dangling symlink included.
      fs.linkSync(temporary, file);
      fs.unlinkSync(temporary);
    } else {
      // rename(2) replaces a symlink at `file` itself; it never writes through it.
      fs.renameSync(temporary, file);
    }
  } catch (error) {
    if (created) {
      try {
        fs.unlinkSync(temporary);
      } catch {
        // the original error is the one worth reporting
      }
    }
    throw new FileError(
      file,
      `cannot write: ${describeFsError(error)}`,
      errnoCode(error),
      `cannot write ${file}: ${describeFsError(error)}`,
    );
  }
}
