/**
 * The kmod adapter's read side: collects the `vfio_pci:` aliases of one kernel from its
 * modules directory (`/lib/modules/$(uname -r)`): modules.alias for loadable modules,
 * modules.builtin.modinfo for built-in ones. It never fails: when modules.alias cannot be
 * read, it says why and offers the generic vfio_pci module alone (libvirt fails the whole
 * VM start here; a missing index should not strand a device).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  builtinModuleNames,
  GENERIC_VFIO_MODULE,
  GENERIC_VFIO_PATTERN,
  scanBuiltinModinfo,
  scanModulesAlias,
  type SkippedLine,
  type VfioAlias,
} from "../alias/aliasRecords.js";
import { describeFsError, errnoCode } from "../errors.js";

export interface VfioAliasSet {
  readonly aliases: VfioAlias[];
  readonly skipped: SkippedLine[];
  /** Problems an admin should hear about once (on stderr, or in the journal). */
  readonly warnings: string[];
  /** True when modules.alias could not be read and the generic module stands in. */
  readonly fallback: boolean;
}

/** Reads an optional file as latin1 (the index files are ASCII; latin1 never fails to decode and is the cheapest). */
function readOptional(file: string): { text: string } | { missing: string } {
  try {
    return { text: fs.readFileSync(file, "latin1") };
  } catch (error) {
    return { missing: errnoCode(error) === "ENOENT" ? "missing" : `unreadable: ${describeFsError(error)}` };
  }
}

export function readVfioAliases(modulesDir: string, options: { lineNumbers?: boolean } = {}): VfioAliasSet {
  const aliases: VfioAlias[] = [];
  const skipped: SkippedLine[] = [];
  const warnings: string[] = [];
  let fallback = false;

  const aliasFile = path.join(modulesDir, "modules.alias");
  const aliasText = readOptional(aliasFile);
  if ("text" in aliasText) {
    const scan = scanModulesAlias(aliasText.text, aliasFile, options);
    aliases.push(...scan.aliases);
    skipped.push(...scan.skipped);
  } else {
    fallback = true;
    warnings.push(`${aliasFile}: ${aliasText.missing}; offering only the generic ${GENERIC_VFIO_MODULE} module`);
  }

  const modinfoFile = path.join(modulesDir, "modules.builtin.modinfo");
  const modinfo = readOptional(modinfoFile);
  if ("text" in modinfo) {
    const scan = scanBuiltinModinfo(modinfo.text, modinfoFile);
    aliases.push(...scan.aliases);
    skipped.push(...scan.skipped);
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

  if (skipped.length > 0) {
    warnings.push(`${skipped.length} malformed vfio_pci line(s) skipped in ${modulesDir} (run explain for each one)`);
  }
  return { aliases, skipped, warnings, fallback };
}

/** Modules built into this kernel (`modules.builtin`): there is nothing to load for them. */
export function readBuiltinModules(modulesDir: string): Set<string> {
  const builtin = readOptional(path.join(modulesDir, "modules.builtin"));
  return "text" in builtin ? builtinModuleNames(builtin.text) : new Set();
}
