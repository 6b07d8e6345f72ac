/**
 * The module policy adapter: reads modprobe.d the way kmod does (every `*.conf` of each
 * directory in MODPROBE_DIRS, a file name in an earlier directory hiding the same name in a
 * later one, then all of them in file name order) and the kernel command line. It never
 * fails: a file it cannot read is a warning, as kmod itself skips it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeFsError, errnoCode } from "../errors.js";
import { FileError, readOptionalRegularFile, readRegularFile } from "../files/safeFiles.js";
import { modulePolicyPaths } from "../paths.js";
import { hasUnsafeCharacters, quoteForDisplay } from "../text/safeText.js";
import {
  modulePolicyFrom,
  parseKernelCommandLine,
  parseModprobeConf,
  type ForbiddenModule,
  type ModulePolicy,
} from "./modulePolicy.js";

/** modprobe.d files are a few lines each. */
export const MAX_MODPROBE_FILE_BYTES = 1024 * 1024;
/** A distribution ships a few dozen; more than this and the rest are not read. */
export const MAX_MODPROBE_FILES = 1024;
/** The kernel's command line is at most a few KiB on every architecture. */
const MAX_CMDLINE_BYTES = 64 * 1024;

export interface LoadedModulePolicy {
  readonly policy: ModulePolicy;
  readonly warnings: string[];
}

/** The `*.conf` files kmod would read, by name, each from the first directory that has it. */
function modprobeFiles(dirs: readonly string[], warnings: string[]): string[] {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (error) {
      if (errnoCode(error) !== "ENOENT" && errnoCode(error) !== "ENOTDIR") {
        warnings.push(`${dir}: cannot list: ${describeFsError(error)}; its module blacklist is not known`);
      }
      continue;
    }
    for (const name of names) {
      if (!name.endsWith(".conf") || byName.has(name)) continue;
      if (hasUnsafeCharacters(name)) {
        warnings.push(`${dir}: ${quoteForDisplay(name)}: a file name with control characters; not read`);
        continue;
      }
      byName.set(name, path.join(dir, name));
    }
  }
  const names = [...byName.keys()].sort();
  if (names.length > MAX_MODPROBE_FILES) {
    warnings.push(`${names.length} modprobe.d files, more than ${MAX_MODPROBE_FILES}; only the first are read`);
  }
  return names.slice(0, MAX_MODPROBE_FILES).map((name) => byName.get(name) as string);
}

export function readModulePolicy(modprobeRoot: string, procRoot: string): LoadedModulePolicy {
  const paths = modulePolicyPaths(modprobeRoot, procRoot);
  const warnings: string[] = [];
  let rules: ForbiddenModule[] = [];
  for (const file of modprobeFiles(paths.modprobeDirs, warnings)) {
    try {
      rules = rules.concat(parseModprobeConf(readRegularFile(file, { maxBytes: MAX_MODPROBE_FILE_BYTES }), file));
    } catch (error) {
      if (!(error instanceof FileError)) throw error;
      if (error.code !== "ENOENT") warnings.push(`${error.message}; its module blacklist is not known`);
    }
  }
  // The kernel's own refusal comes first: it is the one no config file can undo.
  let cmdline: ForbiddenModule[] = [];
  try {
    const text = readOptionalRegularFile(paths.kernelCommandLine, { maxBytes: MAX_CMDLINE_BYTES });
    if (text !== null) cmdline = parseKernelCommandLine(text);
  } catch (error) {
    if (!(error instanceof FileError)) throw error;
    warnings.push(error.message);
  }
  return { policy: modulePolicyFrom(cmdline.concat(rules)), warnings };
}
