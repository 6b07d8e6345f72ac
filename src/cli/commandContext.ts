/**
 * The global options every command shares, resolved once: where sysfs and the kernel's
 * module files are, how to print, and where messages go.
 */
import { defaultModulesDir } from "../kmod/readVfioAliases.js";

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export interface GlobalOptions {
  readonly sysfsRoot: string;
  readonly modulesDir: string;
  readonly json: boolean;
}

export interface CommandContext extends GlobalOptions {
  readonly output: Output;
  /** Set by a command that finished but must report failure (exit 1). */
  exitCode: number;
}

export function globalOptionsFrom(argv: { "sysfs-root"?: string; "modules-dir"?: string; json?: boolean }): GlobalOptions {
  return {
    sysfsRoot: argv["sysfs-root"] ?? "/sys",
    modulesDir: argv["modules-dir"] ?? defaultModulesDir(),
    json: argv.json ?? false,
  };
}

/** Prints warnings on stderr, each once, prefixed with the program name. */
export function warn(context: CommandContext, warnings: readonly string[]): void {
  for (const warning of new Set(warnings)) context.output.err(`vfio-autobind: warning: ${warning}\n`);
}
