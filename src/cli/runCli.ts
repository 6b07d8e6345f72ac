/**
 * The command line: the command table, registered with yargs, and the mapping of errors to
 * one line and an exit code (0 done, 1 failed at run time, 2 usage). Each command's options
 * and handler live in its own module.
 */
import yargs, { type Argv } from "yargs";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, RuntimeFailure, UsageError } from "../errors.js";
import { VERSION } from "../version.js";
import { EXIT_STATUS_HELP } from "../binder/outcomes.js";
import type { Adapters } from "../binder/kernelIo.js";
import { bindCommand, releaseCommand } from "./bindCommands.js";
import { applyCommand, claimCommand, unclaimCommand } from "./claimCommands.js";
import { claimsCommand } from "./claimsCommand.js";
import { checkCommand } from "./checkCommand.js";
import { statusCommand } from "./statusCommand.js";
import {
  type CliCommand,
  type CommandContext,
  type GlobalArguments,
  globalOptionsFrom,
  type Output,
  withGlobalOptions,
} from "./commandContext.js";
import { explainCommand } from "./explainCommand.js";
import { holdScriptCommand } from "./holdScriptCommand.js";
import { listCommand } from "./listCommand.js";

/** Every command, in the order --help lists them. */
export const COMMANDS: readonly CliCommand[] = [
  listCommand,
  explainCommand,
  bindCommand,
  releaseCommand,
  claimCommand,
  unclaimCommand,
  claimsCommand,
  checkCommand,
  applyCommand,
  statusCommand,
  holdScriptCommand,
];

const EPILOGUE = `Devices may be named by address (0000:3b:00.2 or 3b:00.2) or by sysfs path.\n${EXIT_STATUS_HELP}`;

export async function runCli(
  argv: readonly string[],
  output: Output,
  adapters: Adapters,
  env: NodeJS.ProcessEnv = {},
): Promise<number> {
  // The command that runs sets exitCode on its context; it is read back at the end.
  const contexts: CommandContext[] = [];
  const start = (args: GlobalArguments): CommandContext => {
    const context: CommandContext = { ...globalOptionsFrom(args), output, adapters, exitCode: EXIT_OK };
    contexts.push(context);
    return context;
  };

  let parser: Argv<GlobalArguments> = withGlobalOptions(yargs([...argv]))
    .scriptName("vfio-autobind")
    .usage("Usage: $0 <command> [options]\n\nBind claimed PCI devices to their most specific VFIO driver.");
  for (const command of COMMANDS) parser = command.register(parser, start, { argv });
  parser = parser
    .completion("completion", "print a bash completion script (source it, or save it to bash-completion's directory)")
    .demandCommand(1, "Give a command, such as list, explain, claim or apply. See --help.")
    .recommendCommands()
    .strict()
    .version(VERSION)
    .help()
    .alias("help", "h")
    .epilogue(EPILOGUE)
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .exitProcess(false)
    // No camelCase twins or --no-* negations: they only make "Unknown argument" messages
    // name options the admin never typed.
    .parserConfiguration({ "camel-case-expansion": false, "boolean-negation": false })
    .fail((message, error) => {
      // yargs reports its own parse problems as YError: those are usage errors too.
      if (error instanceof Error && error.name !== "YError") throw error;
      throw new UsageError(message ?? (error instanceof Error ? error.message : "invalid command line"));
    });

  try {
    // yargs puts whatever follows "--" aside, where no command looks: a claim would be
    // written without the selectors given after it. Nothing here needs "--" (no device,
    // selector or option value starts with "-"), so it is refused rather than ignored.
    if (argv.includes("--"))
      throw new UsageError(`"--" is not used by vfio-autobind; give every selector before or among the options`);
    await parser.parseAsync();
  } catch (error) {
    return reportError(error, output, env);
  }
  return contexts[0]?.exitCode ?? EXIT_OK;
}

/** One line for the admin, and the exit code for the kind of error. */
function reportError(error: unknown, output: Output, env: NodeJS.ProcessEnv): number {
  if (error instanceof UsageError) {
    output.err(`vfio-autobind: ${error.message}\nTry 'vfio-autobind --help'.\n`);
    return EXIT_USAGE;
  }
  if (error instanceof RuntimeFailure) {
    output.err(`vfio-autobind: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  output.err(`vfio-autobind: unexpected error: ${message}\n`);
  if (env["VFIO_AUTOBIND_DEBUG"] && error instanceof Error) output.err(`${error.stack}\n`);
  return EXIT_FAILURE;
}
