/**
 * Where a loadable module's file is (`modules.dep`, which depmod writes beside
 * modules.alias) and when it was put there. A module's file time is the only trace of its
 * installation: dpkg and rpm set the mtime to the package's build time, DKMS copies without
 * keeping it, so the inode's change time (set by every create or rename, and by nothing a
 * package can choose) is what says "installed at".
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { normaliseModuleName } from "../alias/aliasRecords.js";
import { readOptionalRegularFile } from "../files/safeFiles.js";
import { MAX_INDEX_BYTES } from "./readVfioAliases.js";

/** `kernel/drivers/vfio/pci/mlx5/mlx5-vfio-pci.ko.xz` -> `mlx5_vfio_pci`. */
export function moduleNameOfFile(file: string): string {
  return normaliseModuleName(path.posix.basename(file).replace(/\.ko(?:\.[a-z0-9]+)?$/, ""));
}

/** The module's file, relative to the modules directory, from the text of modules.dep; null: not listed. */
export function moduleFileIn(modulesDep: string, module: string): string | null {
  for (const line of modulesDep.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const file = line.slice(0, colon);
    if (moduleNameOfFile(file) === module) return file;
  }
  return null;
}

export interface ModuleFiles {
  /** Whether the module has a file in this kernel's modules directory now. */
  has(module: string): boolean;
  /** When the module's file was installed, or null: not a loadable module here, or unreadable. */
  installedAt(module: string): Date | null;
}

/** The module files of one modules directory; modules.dep is read on first use, once. */
export function moduleFiles(modulesDir: string): ModuleFiles {
  let dep: string | null | undefined;
  const fileOf = (module: string): string | null => {
    if (dep === undefined) {
      try {
        dep = readOptionalRegularFile(path.join(modulesDir, "modules.dep"), { maxBytes: MAX_INDEX_BYTES });
      } catch {
        dep = null;
      }
    }
    const relative = dep === null ? null : moduleFileIn(dep, module);
    if (relative === null || path.isAbsolute(relative) || relative.split("/").includes("..")) return null;
    return path.join(modulesDir, relative);
  };
  const statOf = (module: string): fs.Stats | null => {
    const file = fileOf(module);
    try {
      return file === null ? null : fs.statSync(file);
    } catch {
      return null;
    }
  };
  return {
    has: (module) => statOf(module) !== null,
    installedAt: (module) => statOf(module)?.ctime ?? null,
  };
}
