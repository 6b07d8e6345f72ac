/**
 * The kmod adapter's read side: collects the `vfio_pci:` aliases of one kernel from its
 * modules directory (`/lib/modules/$(uname -r)`): modules.alias for loadable modules,
 * modules.builtin.modinfo for built-in ones. It never fails: when modules.alias cannot be
 * read, it says why and offers the generic vfio_pci module alone (libvirt fails the whole
 * VM start here; a missing index should not strand a device).
 */
import * as path from "node:path";
import {
  BUILTIN_ALIAS_KEY,
  builtinModuleNames,
  GENERIC_VFIO_MODULE,
  GENERIC_VFIO_PATTERN,
  scanBuiltinModinfo,
  recordsWith,
  scanModulesAlias,
  SkippedLines,
  VFIO_ALIAS_PREFIX,
  type SkippedLine,
  type VfioAlias,
} from "../alias/aliasRecords.js";
import { FileError, readOptionalRegularBytes, readOptionalRegularFile } from "../files/safeFiles.js";

/**
 * The largest index file read. A distribution modules.alias is about 1.4 MB and
 * modules.builtin.modinfo under 1 MB; anything near this bound is not a kernel's index.
 */
export const MAX_INDEX_BYTES = 32 * 1024 * 1024;

/** What a warning is about, so a command can choose which to show without reading its words. */
export type AliasWarningKind = "index-unreadable" | "malformed-lines";

export interface AliasWarning {
  readonly kind: AliasWarningKind;
  readonly message: string;
}

export interface VfioAliasSet {
  readonly aliases: VfioAlias[];
  /** The first skipped lines in detail (see MAX_SKIPPED_DETAIL); `skippedCount` counts them all. */
  readonly skipped: SkippedLine[];
  readonly skippedCount: number;
  /** Problems an admin should hear about once (on stderr, or in the journal). */
  readonly warnings: AliasWarning[];
  /** True when modules.alias could not be read and the generic module stands in. */
  readonly fallback: boolean;
}

/**
 * Reads an optional index file: regular files only (a FIFO or a device planted there
 * never blocks or floods the helper), bounded, as latin1 (the index files are ASCII;
 * latin1 never fails to decode and is the cheapest).
 */
function readOptional(file: string): { text: string } | { missing: string } {
  try {
    const text = readOptionalRegularFile(file, { maxBytes: MAX_INDEX_BYTES, encoding: "latin1" });
    return text === null ? { missing: "missing" } : { text };
  } catch (error) {
    if (error instanceof FileError) return { missing: `unreadable: ${error.problem}` };
    throw error;
  }
}

/**
 * Like readOptional, but only the records that contain `key` (recordsWith), when the scan
 * needs nothing else: without line numbers, the scans see the same records either way.
 */
function readOptionalRecords(
  file: string,
  key: string,
  separator: "\n" | "\0",
  whole: boolean,
): { text: string } | { missing: string } {
  if (whole) return readOptional(file);
  try {
    const bytes = readOptionalRegularBytes(file, { maxBytes: MAX_INDEX_BYTES });
    return bytes === null ? { missing: "missing" } : { text: recordsWith(bytes, key, separator) };
  } catch (error) {
    if (error instanceof FileError) return { missing: `unreadable: ${error.problem}` };
    throw error;
  }
}

export function readVfioAliases(modulesDir: string, options: { lineNumbers?: boolean } = {}): VfioAliasSet {
  let aliases: VfioAlias[] = [];
  const skipped = new SkippedLines();
  const warnings: AliasWarning[] = [];
  let fallback = false;

  const aliasFile = path.join(modulesDir, "modules.alias");
  const lineNumbers = options.lineNumbers ?? true;
  const aliasText = readOptionalRecords(aliasFile, VFIO_ALIAS_PREFIX, "\n", lineNumbers);
  if ("text" in aliasText) {
    const scan = scanModulesAlias(aliasText.text, aliasFile, options);
    aliases = scan.aliases;
    skipped.addAll(scan);
  } else {
    fallback = true;
    warnings.push({
      kind: "index-unreadable",
      message: `${aliasFile}: ${aliasText.missing}; offering only the generic ${GENERIC_VFIO_MODULE} module`,
    });
  }

  const modinfoFile = path.join(modulesDir, "modules.builtin.modinfo");
  const modinfo = readOptionalRecords(modinfoFile, BUILTIN_ALIAS_KEY, "\0", false);
  if ("text" in modinfo) {
    const scan = scanBuiltinModinfo(modinfo.text, modinfoFile);
    // concat, not push(...spread): a spread of 150,000 records overflows the call stack.
    aliases = aliases.concat(scan.aliases);
    skipped.addAll(scan);
  } else if (modinfo.missing !== "missing") {
    warnings.push({ kind: "index-unreadable", message: `${modinfoFile}: ${modinfo.missing}` });
  }

  const hasGeneric = aliases.some((a) => a.module === GENERIC_VFIO_MODULE);
  if (!hasGeneric) {
    // vfio-pci built in (=y) on a kernel that writes no builtin aliases, or no index at
    // all: the generic driver still handles any PCI device.
    const builtinFile = path.join(modulesDir, "modules.builtin");
    const builtin = readOptional(builtinFile);
    if (fallback) {
      aliases.push({
        pattern: GENERIC_VFIO_PATTERN,
        module: GENERIC_VFIO_MODULE,
        origin: { file: "(fallback: no modules.alias)" },
      });
    } else if ("text" in builtin && builtinModuleNames(builtin.text).has(GENERIC_VFIO_MODULE)) {
      aliases.push({ pattern: GENERIC_VFIO_PATTERN, module: GENERIC_VFIO_MODULE, origin: { file: builtinFile } });
    }
  }

  if (skipped.count > 0) {
    warnings.push({
      kind: "malformed-lines",
      message: `${skipped.count} malformed vfio_pci line(s) skipped in ${modulesDir} (run explain for each one)`,
    });
  }
  return { aliases, skipped: skipped.kept, skippedCount: skipped.count, warnings, fallback };
}

/** Modules built into this kernel (`modules.builtin`): there is nothing to load for them. */
export function readBuiltinModules(modulesDir: string): Set<string> {
  const builtin = readOptional(path.join(modulesDir, "modules.builtin"));
  return "text" in builtin ? builtinModuleNames(builtin.text) : new Set();
}
