/**
 * What file another process has open or mapped, as /proc records it, told apart by identity
 * (its filesystem's device number and its inode number), never by the path /proc shows: a
 * local user can make a path read as anything (a file named `x /dev/vfio/42`, or a file at
 * /dev/vfio/42 in a mount namespace of their own), but not take another file's identity.
 *
 * Nothing here asks the file's own filesystem anything until the kernel's records say it is
 * a tmpfs: a stat through /proc/<pid>/fd/N goes to that filesystem, and one that never
 * answers (an NFS server that is gone, a FUSE daemon of a local user) would hang us. The
 * kernel's records (fdinfo, mountinfo, maps) never block.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** A file's identity as stat(2) gives it: st_dev split into major and minor, and st_ino. */
export interface FileId {
  readonly major: number;
  readonly minor: number;
  readonly ino: bigint;
  /** The device a device node opens (st_rdev), or null for any other file. */
  readonly rdev: bigint | null;
}

/** The identity of the file at `file` (followed if a symlink), or null when it cannot be had. */
export function fileIdOf(file: string): FileId | null {
  try {
    const stat = fs.statSync(file, { bigint: true });
    // glibc's encoding of dev_t (gnu_dev_major, gnu_dev_minor), which libuv's stat uses.
    const major = ((stat.dev >> 8n) & 0xfffn) | ((stat.dev >> 32n) & ~0xfffn);
    const minor = (stat.dev & 0xffn) | ((stat.dev >> 12n) & ~0xffn);
    return {
      major: Number(major),
      minor: Number(minor),
      ino: stat.ino,
      rdev: stat.isCharacterDevice() ? stat.rdev : null,
    };
  } catch {
    return null;
  }
}

/** The same file: same filesystem and inode, or the same character device (another node of it). */
export const isSameFile = (a: FileId, b: FileId): boolean =>
  (a.major === b.major && a.minor === b.minor && a.ino === b.ino) || (a.rdev !== null && a.rdev === b.rdev);

/** O_PATH (asm-generic/fcntl.h): a descriptor that names a file without opening it; anyone may take one. */
const O_PATH = 0o10000000;
/** Filesystems whose files can be stat'ed without any chance of blocking: device nodes live on these. */
const NEVER_BLOCKING = new Set(["devtmpfs", "tmpfs"]);

/**
 * Whether descriptor `fd` of process `pid`, whose link reads as one of the wanted paths,
 * really opens `wanted`. Not when it is an O_PATH descriptor (which holds nothing open), nor
 * when its file is on a filesystem that could block a stat, nor when it is another file.
 * When the kernel's records cannot be read (they can whenever the fd link could), the path
 * alone decides: a device wrongly seen as held is only refused, never pulled from a guest.
 */
export function fdOpens(procRoot: string, pid: string, fd: string, wanted: FileId | null, mounts: MountTable): boolean {
  const info = readSmallFile(path.join(procRoot, pid, "fdinfo", fd));
  if (info === null) return true;
  const flags = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
  if (flags !== undefined && (parseInt(flags, 8) & O_PATH) !== 0) return false;
  const mountId = /^mnt_id:\s+([0-9]+)$/m.exec(info)?.[1];
  const fsType = mountId === undefined ? undefined : mounts.fsTypeOf(mountId);
  if (fsType === undefined) return true;
  if (!NEVER_BLOCKING.has(fsType) || wanted === null) return false;
  const id = fileIdOf(path.join(procRoot, pid, "fd", fd));
  return id !== null && isSameFile(id, wanted);
}

/** One process's mounts by id (/proc/<pid>/mountinfo), read on first use. */
export interface MountTable {
  /** The filesystem type of mount `id`; undefined when unknown. */
  fsTypeOf(id: string): string | undefined;
}

export function mountTableOf(procRoot: string, pid: string): MountTable {
  let types: Map<string, string> | null = null;
  return {
    fsTypeOf(id: string): string | undefined {
      if (types === null) {
        types = new Map();
        const text = readSmallFile(path.join(procRoot, pid, "mountinfo"), MAX_MOUNTINFO_BYTES) ?? "";
        for (const line of text.split("\n")) {
          // "36 35 0:5 / /dev rw,nosuid - devtmpfs udev rw": the type follows the lone "-".
          const fields = line.split(" ");
          const dash = fields.indexOf("-", 6);
          if (dash > 0 && fields[dash + 1] !== undefined) types.set(fields[0] as string, fields[dash + 1] as string);
        }
      }
      return types.get(id);
    },
  };
}

/** /proc/<pid>/maps of a large process is a few MB; no VMM maps its device past this. */
const MAX_MAPS_BYTES = 8 * 1024 * 1024;
/** Thousands of mounts (a container host) stay far below this. */
const MAX_MOUNTINFO_BYTES = 4 * 1024 * 1024;

/**
 * Which of `wanted` process `pid` has mapped, from the device and inode columns of its maps
 * ("7f..-7f.. rw-s 00000000 00:05 1234  <path>"); the path column is never looked at.
 * `chunk` is the read buffer, shared across processes.
 */
export function mappedFiles(
  procRoot: string,
  pid: string,
  wanted: ReadonlyMap<string, FileId>,
  chunk: Buffer,
): Set<string> {
  const found = new Set<string>();
  let fd: number;
  try {
    fd = fs.openSync(path.join(procRoot, pid, "maps"), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return found; // gone, or not ours to read
  }
  const check = (line: string): void => {
    const fields = line.trim().split(/\s+/);
    const dev = /^([0-9a-f]+):([0-9a-f]+)$/.exec(fields[3] ?? "");
    const ino = fields[4] ?? "";
    if (dev === null || !/^[1-9][0-9]*$/.test(ino)) return;
    const major = parseInt(dev[1] as string, 16);
    const minor = parseInt(dev[2] as string, 16);
    for (const [name, id] of wanted) {
      if (id.major === major && id.minor === minor && id.ino === BigInt(ino)) found.add(name);
    }
  };
  try {
    // Read in chunks, carrying the unfinished last line into the next: memory stays one chunk
    // whatever the size of the process, and the read stops at a bound.
    let carried = "";
    for (let total = 0; total < MAX_MAPS_BYTES && found.size < wanted.size;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      const lines = (carried + chunk.toString("latin1", 0, n)).split("\n");
      carried = lines.pop() ?? "";
      lines.forEach(check);
    }
    check(carried); // the last line may lack its newline
  } catch {
    // vanished mid-read: what was found so far stands
  } finally {
    fs.closeSync(fd);
  }
  return found;
}

/** A small /proc file's text, or null when it cannot be read. */
function readSmallFile(file: string, limit = 4096): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const buffer = Buffer.alloc(Math.min(limit, 64 * 1024));
    let text = "";
    for (let total = 0; total < limit;) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, limit - total), null);
      if (n === 0) break;
      total += n;
      text += buffer.toString("latin1", 0, n);
    }
    return text;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
