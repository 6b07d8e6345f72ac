/** Builds what the binder needs from the paths in use; shared by the CLI and the udev entry. */
import { readModulePolicy } from "../kmod/readModulePolicy.js";
import { readBuiltinModules, readVfioAliases } from "../kmod/readVfioAliases.js";
import { acquireLock } from "../lock/deviceLock.js";
import { statePaths } from "../paths.js";
import type { BindEnvironment } from "./bindDevice.js";
import type { KernelIo } from "./kernelIo.js";

/** modprobe gets its own deadline, well inside udev's 180 s event timeout. */
export const MODPROBE_TIMEOUT_MS = 30_000;
export const LOCK_TIMEOUT_MS = 60_000;

export interface BindPaths {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  readonly stateDir: string;
  readonly modulesDir: string;
  /** Where modprobe.d is read from (`/`, or a test tree). */
  readonly modprobeRoot: string;
}

export function makeBindEnvironment(
  paths: BindPaths,
  kernel: KernelIo,
  onWarnings: (warnings: readonly string[]) => void,
): BindEnvironment {
  const aliasSet = readVfioAliases(paths.modulesDir, { lineNumbers: false });
  onWarnings(aliasSet.warnings.map((w) => w.message));
  const modules = readModulePolicy(paths.modprobeRoot, paths.procRoot);
  onWarnings(modules.warnings);
  return {
    sysfsRoot: paths.sysfsRoot,
    procRoot: paths.procRoot,
    stateDir: paths.stateDir,
    aliasSet,
    modulePolicy: modules.policy,
    builtinModules: readBuiltinModules(paths.modulesDir),
    kernel,
    modprobeTimeoutMs: MODPROBE_TIMEOUT_MS,
    lock: (key) => acquireLock(statePaths(paths.stateDir).locks, key, { timeoutMs: LOCK_TIMEOUT_MS }),
    now: () => new Date(),
  };
}
