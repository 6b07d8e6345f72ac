/**
 * The tests' guard for this machine: loaded into every test worker (vitest.config.ts,
 * setupFiles) and into every bundle a test starts (node --require, test/support/hostGuard.ts),
 * it makes each node:fs call that would create, change or remove a file of the host's own
 * /sys, /etc, /run, /boot, /dev... throw, before anything happens; in the workers, so does a
 * connection to a socket there (journald's). A test whose options went astray fails instead
 * of touching this machine. Reads are left alone: list and explain read the real /sys.
 *
 * Written as CommonJS so `node --require` loads it as it is; the tool imports node:fs as a
 * namespace, whose bindings follow the CommonJS object once syncBuiltinESMExports() has run.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { syncBuiltinESMExports } = require("node:module");

const HOST_ONLY_PREFIXES = ["/sys", "/proc", "/etc", "/run", "/boot", "/usr", "/lib", "/var", "/dev"];
/** Where writing changes nothing on the host. */
const HARMLESS = new Set(["/dev/null"]);

function hostPath(file) {
  if (typeof file !== "string" && !Buffer.isBuffer(file) && !(file instanceof URL)) return null;
  const resolved = path.resolve(file instanceof URL ? file.pathname : String(file));
  if (HARMLESS.has(resolved)) return null;
  return HOST_ONLY_PREFIXES.some((prefix) => resolved === prefix || resolved.startsWith(`${prefix}/`))
    ? resolved
    : null;
}

function refuse(file, what) {
  const resolved = hostPath(file);
  if (resolved !== null) throw new Error(`test guard: refusing to ${what} ${resolved}, a path of the host itself`);
}

const WRITE_BITS =
  fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND;
const opensForWriting = (flags) =>
  flags !== undefined &&
  flags !== null &&
  (typeof flags === "number" ? (flags & WRITE_BITS) !== 0 : !/^(r|rs|sr)$/.test(String(flags)));

/** Wraps `object[name]` so that the paths at `positions` are checked first (fs.promises: a rejection). */
function guard(object, name, positions, what) {
  const original = object[name];
  if (typeof original !== "function") return;
  object[name] =
    object === fs.promises
      ? async function guarded(...args) {
          for (const at of positions) refuse(args[at], what);
          return original.apply(this, args);
        }
      : function guarded(...args) {
          for (const at of positions) refuse(args[at], what);
          return original.apply(this, args);
        };
}

const statSync = fs.statSync;
/** /dev/null's device number: the one device a test may write. */
const NULL_RDEV = statSync("/dev/null").rdev;

/** Wraps an open: only a write-mode open (flags at 1) is checked (fs.promises: a rejection). */
function guardOpen(object, name) {
  const original = object[name];
  if (typeof original !== "function") return;
  const guarded = function guarded(...args) {
    if (opensForWriting(args[1])) {
      refuse(args[0], "open for writing");
      // A device node made under a temporary tree is still the host's device (the kernel log).
      const stats = typeof args[0] === "string" ? statSync(args[0], { throwIfNoEntry: false }) : undefined;
      if (stats?.isCharacterDevice() && stats.rdev !== NULL_RDEV)
        throw new Error(`test guard: refusing to open ${args[0]} for writing, a device of the host itself`);
    }
    return original.apply(this, args);
  };
  object[name] =
    object === fs.promises
      ? async function guardedAsync(...args) {
          return guarded.apply(this, args);
        }
      : guarded;
}

const ONE_PATH = [
  "writeFile",
  "appendFile",
  "mkdir",
  "mkdtemp",
  "unlink",
  "rmdir",
  "rm",
  "chmod",
  "chown",
  "lchown",
  "utimes",
  "truncate",
  "createWriteStream",
];
const TWO_PATHS = ["rename", "link", "symlink", "copyFile", "cp"];
for (const base of ONE_PATH) {
  guard(fs, base, [0], "write");
  guard(fs, `${base}Sync`, [0], "write");
  guard(fs.promises, base, [0], "write");
}
// rename and link change both places; symlink, copyFile and cp write their second.
for (const base of TWO_PATHS) {
  const positions = base === "rename" || base === "link" ? [0, 1] : [1];
  guard(fs, base, positions, "write");
  guard(fs, `${base}Sync`, positions, "write");
  guard(fs.promises, base, positions, "write");
}
guardOpen(fs, "open");
guardOpen(fs, "openSync");
guardOpen(fs.promises, "open");

/**
 * journald's stream socket, or any other socket of the host: in the test workers only
 * (setupHostGuard.ts), as loading `net` here would load it into every bundle a test starts,
 * whose tests check that the udev helper does not.
 */
function guardSockets() {
  const net = require("node:net");
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const socketPath =
      typeof first === "string" ? first : first !== null && typeof first === "object" ? first.path : undefined;
    refuse(socketPath, "connect to");
    return connect.apply(this, args);
  };
}
module.exports = { guardSockets };

syncBuiltinESMExports();
globalThis[Symbol.for("vfio-autobind.hostWriteGuard")] = true;
