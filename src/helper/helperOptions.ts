/**
 * The udev helper's options (`udev-helper.js --name value`), parsed once, at start-up
 * (src/start/startUdevHelper.ts), into the roots the helper works under. The packaged rule
 * gives none: each defaults to the host's own path (src/paths.ts). Tests give temporary roots.
 */
import { DEFAULT_PATHS, defaultModulesDir } from "../paths.js";
import { parseHelperArgs } from "./helperArgs.js";

export const HELPER_OPTIONS = [
  "sysfs-root",
  "modules-dir",
  "state-dir",
  "proc-root",
  "dev-root",
  "config-dir",
  "modprobe-root",
  "kmsg",
  "journal-socket",
] as const;

export interface HelperOptions {
  readonly sysfsRoot: string;
  readonly modulesDir: string;
  readonly stateDir: string;
  readonly procRoot: string;
  readonly devRoot: string;
  readonly configDir: string;
  readonly modprobeRoot: string;
  readonly kmsg: string;
  readonly journalSocket: string;
}

/** The helper's options from its arguments; throws a UsageError naming the argument. */
export function parseHelperOptions(argv: readonly string[]): HelperOptions {
  const given = parseHelperArgs(argv, HELPER_OPTIONS);
  return {
    sysfsRoot: given["sysfs-root"] ?? DEFAULT_PATHS.sysfsRoot,
    modulesDir: given["modules-dir"] ?? defaultModulesDir(),
    stateDir: given["state-dir"] ?? DEFAULT_PATHS.stateDir,
    procRoot: given["proc-root"] ?? DEFAULT_PATHS.procRoot,
    devRoot: given["dev-root"] ?? DEFAULT_PATHS.devRoot,
    configDir: given["config-dir"] ?? DEFAULT_PATHS.configDir,
    modprobeRoot: given["modprobe-root"] ?? DEFAULT_PATHS.modprobeRoot,
    kmsg: given["kmsg"] ?? DEFAULT_PATHS.kmsg,
    journalSocket: given["journal-socket"] ?? DEFAULT_PATHS.journalSocket,
  };
}
