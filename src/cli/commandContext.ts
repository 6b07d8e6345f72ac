/**
 * The global options every command shares, resolved once: where sysfs and the kernel's
 * module files are, how to print, and where messages go.
 */
import type { Adapters } from "../binder/kernelIo.js";
import { DEFAULT_PATHS, defaultModulesDir } from "../paths.js";

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export interface GlobalOptions {
  readonly sysfsRoot: string;
  readonly modulesDir: string;
  readonly stateDir: string;
  readonly procRoot: string;
  readonly configDir: string;
  readonly rulesFile: string;
  /** The root under which modprobe.d is read (tests give a tree of their own). */
  readonly modprobeRoot: string;
  /** udevadm to run for `control --reload` (tests give a stand-in). */
  readonly udevadm: string;
  readonly json: boolean;
}

export interface CommandContext extends GlobalOptions {
  readonly output: Output;
  readonly adapters: Adapters;
  /** Set by a command that finished but must report failure (exit 1). */
  exitCode: number;
}

export interface GlobalArguments {
  "sysfs-root"?: string;
  "modules-dir"?: string;
  "state-dir"?: string;
  "proc-root"?: string;
  "config-dir"?: string;
  "rules-file"?: string;
  "modprobe-root"?: string;
  udevadm?: string;
  json?: boolean;
}

export function globalOptionsFrom(argv: GlobalArguments): GlobalOptions {
  return {
    sysfsRoot: argv["sysfs-root"] ?? DEFAULT_PATHS.sysfsRoot,
    modulesDir: argv["modules-dir"] ?? defaultModulesDir(),
    stateDir: argv["state-dir"] ?? DEFAULT_PATHS.stateDir,
    procRoot: argv["proc-root"] ?? DEFAULT_PATHS.procRoot,
    configDir: argv["config-dir"] ?? DEFAULT_PATHS.configDir,
    rulesFile: argv["rules-file"] ?? DEFAULT_PATHS.rulesFile,
    modprobeRoot: argv["modprobe-root"] ?? DEFAULT_PATHS.modprobeRoot,
    udevadm: argv.udevadm ?? "udevadm",
    json: argv.json ?? false,
  };
}

/** Prints warnings on stderr, each once, prefixed with the program name. */
export function warn(context: CommandContext, warnings: readonly string[]): void {
  for (const warning of new Set(warnings)) context.output.err(`vfio-autobind: warning: ${warning}\n`);
}
