/**
 * The command line: the command table, registered with yargs, and the mapping of errors to
 * one line and an outcome. Each command's options and handler live in its own module; the
 * exit code comes from the outcome (binder/outcomes.ts).
 */
import yargs, { type Argv } from "yargs";
import { RuntimeFailure, UsageError } from "../errors.js";
import { VERSION } from "../version.js";
import { completed, EXIT_STATUS_HELP, exitCodeOf, type CommandOutcome } from "../binder/outcomes.js";
import type { Adapters } from "../binder/kernelIo.js";
import { applyCommand } from "./applyCommand.js";
import { bindCommand } from "./bindCommand.js";
import { claimCommand } from "./claimCommand.js";
import { claimsCommand } from "./claimsCommand.js";
import { checkCommand } from "./checkCommand.js";
import { releaseCommand } from "./releaseCommand.js";
import { statusCommand } from "./statusCommand.js";
import { unclaimCommand } from "./unclaimCommand.js";
import {
  type CliCommand,
  type CommandRun,
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
  // The command that runs hands its outcome back here; --help, --version and completion run none.
  let outcome: CommandOutcome = completed();
  const run: CommandRun = {
    start: (args) => ({ ...globalOptionsFrom(args), output, adapters }),
    finish: (result) => {
      outcome = result;
    },
  };

  let parser: Argv<GlobalArguments> = withGlobalOptions(yargs([...argv]))
    .scriptName("vfio-autobind")
    .usage("Usage: $0 <command> [options]\n\nBind claimed PCI devices to their most specific VFIO driver.");
  for (const command of COMMANDS) parser = command.register(parser, run, { argv });
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
    return exitCodeOf(reportError(error, output, env));
  }
  return exitCodeOf(outcome);
}

/** One line for the admin, and the outcome for the kind of error. */
function reportError(error: unknown, output: Output, env: NodeJS.ProcessEnv): CommandOutcome {
  if (error instanceof UsageError) {
    output.err(`vfio-autobind: ${error.message}\nTry 'vfio-autobind --help'.\n`);
    return { kind: "usage-error" };
  }
  if (error instanceof RuntimeFailure) {
    output.err(`vfio-autobind: ${error.message}\n`);
    return { kind: "stopped" };
  }
  const message = error instanceof Error ? error.message : String(error);
  output.err(`vfio-autobind: unexpected error: ${message}\n`);
  if (env["VFIO_AUTOBIND_DEBUG"] && error instanceof Error) output.err(`${error.stack}\n`);
  return { kind: "stopped" };
}
