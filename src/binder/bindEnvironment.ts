/** Builds what the binder needs from the paths in use; shared by the CLI and the udev helper. */
import { moduleFiles } from "../kmod/moduleFiles.js";
import { readModulePolicy } from "../kmod/readModulePolicy.js";
import { readBuiltinModules, readVfioAliases } from "../kmod/readVfioAliases.js";
import { acquireLock } from "../lock/deviceLock.js";
import { statePaths } from "../paths.js";
import type { BindEnvironment } from "./bindDevice.js";
import { MODPROBE_TIMEOUT_MS, UNLIMITED_BUDGET, type Budget } from "./budget.js";
import type { KernelIo } from "./kernelIo.js";

export interface BindPaths {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  /** Where the VFIO nodes are (`/dev`, or a test tree). */
  readonly devRoot: string;
  readonly stateDir: string;
  readonly modulesDir: string;
  /** Where modprobe.d is read from (`/`, or a test tree). */
  readonly modprobeRoot: string;
}

export function makeBindEnvironment(
  paths: BindPaths,
  kernel: KernelIo,
  onWarnings: (warnings: readonly string[]) => void,
  budget: Budget = UNLIMITED_BUDGET,
): BindEnvironment {
  const aliasSet = readVfioAliases(paths.modulesDir, { lineNumbers: false });
  onWarnings(aliasSet.warnings.map((w) => w.message));
  const modules = readModulePolicy(paths.modprobeRoot, paths.procRoot);
  onWarnings(modules.warnings);
  return {
    sysfsRoot: paths.sysfsRoot,
    procRoot: paths.procRoot,
    devRoot: paths.devRoot,
    stateDir: paths.stateDir,
    aliasSet,
    modulePolicy: modules.policy,
    builtinModules: readBuiltinModules(paths.modulesDir),
    moduleFiles: moduleFiles(paths.modulesDir),
    kernel,
    modprobeTimeoutMs: MODPROBE_TIMEOUT_MS,
    budget,
    lock: (key, timeoutMs) => acquireLock(statePaths(paths.stateDir).locks, key, { timeoutMs }),
    now: () => new Date(),
  };
}
