/**
 * The global options every command shares, resolved once: where sysfs and the kernel's
 * module files are, how to print, and where messages go; and the shape of a command.
 */
import type { ArgumentsCamelCase, Argv } from "yargs";
import type { BindEnvironment } from "../binder/bindDevice.js";
import { makeBindEnvironment } from "../binder/bindEnvironment.js";
import type { Adapters } from "../binder/kernelIo.js";
import type { CommandOutcome } from "../binder/outcomes.js";
import { DEFAULT_PATHS, environmentFrom, type Environment } from "../paths.js";

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export interface GlobalOptions extends Environment {
  /** Whether --modules-dir was given (apply --kernel-release then reads it instead of `<modules-base>/<release>`). */
  readonly modulesDirGiven: boolean;
  /** getent, which looks Owner= accounts up through NSS (tests give a stand-in). */
  readonly getent: string;
  /** udevadm to run for `control --reload` (tests give a stand-in). */
  readonly udevadm: string;
  readonly json: boolean;
}

export interface CommandContext extends GlobalOptions {
  readonly output: Output;
  readonly adapters: Adapters;
}

export interface GlobalArguments {
  root?: string;
  "sysfs-root"?: string;
  "modules-dir"?: string;
  "state-dir"?: string;
  "proc-root"?: string;
  "dev-root"?: string;
  "config-dir"?: string;
  "rules-file"?: string;
  "modprobe-root"?: string;
  "accounts-root"?: string;
  getent?: string;
  "tools-root"?: string;
  udevadm?: string;
  json?: boolean;
}

/** The options every command takes, with the defaults from src/paths.ts. */
export function withGlobalOptions<T>(y: Argv<T>) {
  return (
    y
      .option("root", {
        type: "string",
        defaultDescription: "/",
        describe: "the system to work on, by where its / is (an image being built): every path below is taken under it",
        requiresArg: true,
      })
      .option("sysfs-root", {
        type: "string",
        defaultDescription: DEFAULT_PATHS.sysfsRoot,
        describe: "sysfs to read (a test tree instead of /sys)",
        requiresArg: true,
      })
      .option("modules-dir", {
        type: "string",
        describe: "kernel module directory holding modules.alias",
        defaultDescription: `${DEFAULT_PATHS.modulesBase}/$(uname -r)`,
        requiresArg: true,
      })
      .option("state-dir", {
        type: "string",
        defaultDescription: DEFAULT_PATHS.stateDir,
        describe: "where bind records and locks are kept",
        requiresArg: true,
      })
      .option("config-dir", {
        type: "string",
        defaultDescription: DEFAULT_PATHS.configDir,
        describe: "directory of claim files (*.conf, read in name order)",
        requiresArg: true,
      })
      .option("rules-file", {
        type: "string",
        defaultDescription: DEFAULT_PATHS.rulesFile,
        describe: "the udev rules generated from the claims",
        requiresArg: true,
      })
      // Where /proc is, for tests that fake mounts and swaps; not for admins.
      .option("proc-root", { type: "string", hidden: true, requiresArg: true })
      // Where the VFIO nodes are, for tests that fake the processes holding them; not for admins.
      .option("dev-root", { type: "string", hidden: true, requiresArg: true })
      // Where modprobe.d is read, for tests that need a module blacklist of their own.
      .option("modprobe-root", { type: "string", hidden: true, requiresArg: true })
      // Where etc/login.defs is read for Owner=, for tests that must not see the host's.
      .option("accounts-root", { type: "string", hidden: true, requiresArg: true })
      // The getent that looks Owner= accounts up, for tests that must not see the host's accounts.
      .option("getent", { type: "string", default: DEFAULT_PATHS.getent, hidden: true, requiresArg: true })
      // Where update-initramfs, dracut and the initramfs image are looked for, for tests that must not see the host's.
      .option("tools-root", { type: "string", hidden: true, requiresArg: true })
      // The udevadm that reloads rules, for tests that must not touch the host's udevd.
      .option("udevadm", { type: "string", default: "udevadm", hidden: true, requiresArg: true })
      .option("json", { type: "boolean", default: false, describe: "print JSON instead of text" })
  );
}

/** What a command's handler gets besides its context: the command line as typed. */
export interface Invocation {
  readonly argv: readonly string[];
}

/**
 * One entry of the command table: the yargs command string and description, the options
 * it adds to the global ones, and the handler that does the work. A handler returns its
 * outcome (binder/outcomes.ts), or throws RuntimeFailure/UsageError.
 */
export interface CommandDefinition<A> {
  readonly command: string;
  readonly describe: string;
  readonly options: (y: Argv<GlobalArguments>) => Argv<A>;
  readonly handler: (
    context: CommandContext,
    args: ArgumentsCamelCase<A>,
    invocation: Invocation,
  ) => CommandOutcome | Promise<CommandOutcome>;
}

/** One run of the command line: makes the command's context, and takes its outcome. */
export interface CommandRun {
  start(args: GlobalArguments): CommandContext;
  finish(outcome: CommandOutcome): void;
}

/** A table entry with its argument type erased, so commands of every shape fit one table. */
export interface CliCommand {
  readonly command: string;
  readonly describe: string;
  /** Adds the command to the parser; `run` makes its context and takes its outcome. */
  register(parser: Argv<GlobalArguments>, run: CommandRun, invocation: Invocation): Argv<GlobalArguments>;
}

export function defineCommand<A extends GlobalArguments>(definition: CommandDefinition<A>): CliCommand {
  return {
    command: definition.command,
    describe: definition.describe,
    register: (parser, run, invocation) =>
      parser.command(definition.command, definition.describe, definition.options, async (args) => {
        // The parser carries the global options, so every command's arguments include them.
        run.finish(await definition.handler(run.start(args), args, invocation));
      }),
  };
}

export function globalOptionsFrom(argv: GlobalArguments): GlobalOptions {
  return {
    ...environmentFrom(argv as Readonly<Record<string, string | undefined>>),
    modulesDirGiven: argv["modules-dir"] !== undefined,
    getent: argv.getent ?? DEFAULT_PATHS.getent,
    udevadm: argv.udevadm ?? "udevadm",
    json: argv.json ?? false,
  };
}

/** Prints warnings on stderr, each once, prefixed with the program name. */
export function warn(context: CommandContext, warnings: readonly string[]): void {
  for (const warning of new Set(warnings)) context.output.err(`vfio-autobind: warning: ${warning}\n`);
}

/** What the binder needs for a command, from its paths; warnings go to stderr. */
export function bindEnvironment(context: CommandContext): BindEnvironment {
  return makeBindEnvironment(context, context.adapters.kernelIo(context.sysfsRoot), (warnings) =>
    warn(context, warnings),
  );
}
