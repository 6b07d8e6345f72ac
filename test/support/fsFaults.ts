/**
 * Fault injection below the tool's own file access: every node:fs call the code under test
 * makes on a path inside the given roots is counted, and the one at a chosen index fails
 * with an errno (existsSync, which never throws, answers false instead). The tool imports
 * node:fs as a namespace, whose bindings follow the CommonJS object once
 * module.syncBuiltinESMExports() has run, so the patch reaches every caller.
 *
 * Calls `exempt` names are neither counted nor failed: the simulated kernel's own
 * bookkeeping is the kernel's, not the tool's.
 */
import { createRequire, syncBuiltinESMExports } from "node:module";
import * as path from "node:path";

const fsObject = createRequire(__filename)("node:fs") as Record<string, unknown>;

/** The calls that take a path first. */
const PATH_CALLS = [
  "readFileSync",
  "readlinkSync",
  "realpathSync",
  "existsSync",
  "readdirSync",
  "openSync",
  "statSync",
  "lstatSync",
  "mkdirSync",
  "rmSync",
  "unlinkSync",
  "linkSync",
  "renameSync",
  "writeFileSync",
] as const;
/** The calls that take a descriptor first: counted under the path it was opened with. */
const FD_CALLS = ["readSync", "writeSync", "fstatSync", "ftruncateSync", "fsyncSync"] as const;

export interface FsCall {
  readonly call: string;
  readonly file: string;
}

export interface FsFaults {
  /** Every counted call so far. */
  readonly calls: FsCall[];
  /** Stops counting and puts node:fs back. */
  restore(): void;
}

function errnoError(code: string, call: string, file: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected, ${call} '${file}'`);
  error.code = code;
  return error;
}

export function injectFsFaults(options: {
  readonly roots: readonly string[];
  /** The index of the counted call to fail, or undefined to only count. */
  readonly at?: number;
  readonly errno?: string;
  /** Whether a call on `file` is left alone now. */
  readonly exempt: (file: string) => boolean;
}): FsFaults {
  const calls: FsCall[] = [];
  const fdPaths = new Map<number, string>();
  const inside = (file: unknown): file is string =>
    typeof file === "string" &&
    options.roots.some((root) => path.resolve(file) === root || path.resolve(file).startsWith(`${root}/`));
  /** Counts the call; true when it is the one to fail. */
  const hit = (call: string, file: unknown): boolean => {
    if (!inside(file) || options.exempt(file)) return false;
    calls.push({ call, file });
    return calls.length - 1 === options.at;
  };
  const originals = new Map<string, unknown>();
  const originalNative = (fsObject["realpathSync"] as { native: (...args: unknown[]) => unknown }).native;
  for (const name of PATH_CALLS) {
    const original = fsObject[name] as (...args: unknown[]) => unknown;
    originals.set(name, original);
    const wrapped = (...args: unknown[]): unknown => {
      if (hit(name, args[0])) {
        if (name === "existsSync") return false;
        throw errnoError(options.errno ?? "EIO", name, String(args[0]));
      }
      const result = original(...args);
      if (name === "openSync" && typeof result === "number" && inside(args[0])) fdPaths.set(result, args[0]);
      return result;
    };
    fsObject[name] = wrapped;
  }
  (fsObject["realpathSync"] as { native: unknown }).native = (...args: unknown[]): unknown => {
    if (hit("realpathSync.native", args[0])) throw errnoError(options.errno ?? "EIO", "realpath", String(args[0]));
    return originalNative(...args);
  };
  for (const name of FD_CALLS) {
    const original = fsObject[name] as (...args: unknown[]) => unknown;
    originals.set(name, original);
    fsObject[name] = (...args: unknown[]): unknown => {
      const file = typeof args[0] === "number" ? fdPaths.get(args[0]) : undefined;
      if (hit(name, file)) throw errnoError(options.errno ?? "EIO", name, String(file));
      return original(...args);
    };
  }
  syncBuiltinESMExports();
  return {
    calls,
    restore() {
      for (const [name, original] of originals) fsObject[name] = original;
      (fsObject["realpathSync"] as { native: unknown }).native = originalNative;
      syncBuiltinESMExports();
    },
  };
}
