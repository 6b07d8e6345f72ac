/**
 * `check [FILE] [--as NAME] [--applied]`: are the claims valid? The claim files, judged on
 * this machine, and the installed rules against tampering. What is valid but not applied
 * yet is a notice with the command that does it, a failure only with --applied. With FILE,
 * a claim file not installed yet is judged with the installed ones, as a config management
 * tool's validate hook needs before it installs it.
 */
import * as path from "node:path";
import { claimsOutcome, completed, EXIT_CODES, EXIT_STATUS_HELP, type CommandOutcome } from "../binder/outcomes.js";
import { formatConfigError } from "../config/claimConfig.js";
import { isClaimFileName, readClaimConfig, type StagedClaimFile } from "../config/readClaimConfig.js";
import { UsageError } from "../errors.js";
import { quoteForDisplay } from "../text/safeText.js";
import { installedRulesProblem } from "../rules/writeClaimRules.js";
import { type CommandContext, defineCommand } from "./commandContext.js";
import { configErrors } from "./machineConfig.js";
import { notAppliedYet } from "./notApplied.js";

export interface CheckOptions {
  /** A claim file to judge as if installed. */
  readonly file: string | undefined;
  /** The installed file it would replace (`--as`); without it, it is added. */
  readonly as: string | undefined;
  /** Whether what is not applied yet fails the check. */
  readonly applied: boolean;
}

/** The staged file of `check FILE`, or undefined; usage errors for options that do not fit. */
function stagedFile(context: CommandContext, options: CheckOptions): StagedClaimFile | undefined {
  if (options.file === undefined) {
    if (options.as !== undefined) throw new UsageError("--as names where FILE would be installed; give FILE too");
    return undefined;
  }
  if (options.applied) throw new UsageError("--applied cannot be combined with FILE: a staged file is not applied yet");
  if (options.as !== undefined && !isClaimFileName(options.as))
    throw new UsageError(
      `--as ${quoteForDisplay(options.as)}: expected a file name ending in .conf, such as 50-gpu.conf`,
    );
  // A file of the config directory itself stands in its own place rather than twice.
  const inConfigDir = path.dirname(path.resolve(options.file)) === path.resolve(context.configDir);
  return { file: options.file, replaces: options.as ?? (inConfigDir ? path.basename(options.file) : null) };
}

export async function runCheck(context: CommandContext, options: CheckOptions): Promise<CommandOutcome> {
  const staged = stagedFile(context, options);
  const config = readClaimConfig(context.configDir, staged);
  const errors = (await configErrors(context, config)).map(formatConfigError);
  for (const error of errors) context.output.err(`${error}\n`);
  if (errors.length > 0) {
    const where =
      staged === undefined
        ? `${context.configDir}; the udev helper and apply will not act until they are fixed`
        : `${context.configDir} with ${staged.file}${staged.replaces === null ? "" : ` as ${staged.replaces}`}; installed so, the udev helper and apply would not act`;
    context.output.err(`vfio-autobind: ${errors.length} error(s) in ${where}\n`);
  }
  // A staged file changes nothing installed: the rules are judged by a check without FILE.
  const tampered = staged === undefined ? installedRulesProblem(context.rulesFile) : null;
  if (tampered !== null) context.output.err(`${tampered}\n`);
  if (errors.length > 0 || tampered !== null) return claimsOutcome({ invalid: true, notApplied: [] }, options.applied);
  if (staged !== undefined) {
    context.output.out(
      `${staged.file}: no errors; with it, ${context.configDir} has ${config.claims.length} claim(s), ${config.exclusions.length} exclusion(s)\n`,
    );
    return completed();
  }
  const notApplied = notAppliedYet(context, config).lines;
  const label = options.applied ? "" : "notice: ";
  for (const line of notApplied) context.output.err(`vfio-autobind: ${label}${line}\n`);
  const outcome = claimsOutcome({ invalid: false, notApplied }, options.applied);
  if (config.claims.length === 0 && notApplied.length === 0) {
    context.output.out(`${context.configDir}: no claims yet, so nothing to check; "vfio-autobind claim" makes one\n`);
    return outcome;
  }
  context.output.out(
    `${context.configDir}: ${config.claims.length} claim(s), ${config.exclusions.length} exclusion(s), no errors; ${
      notApplied.length === 0 ? `${context.rulesFile} is up to date` : "not applied yet: run the command(s) named above"
    }\n`,
  );
  return outcome;
}

export const checkCommand = defineCommand({
  command: "check [file]",
  describe:
    "are the claims valid? Validate every claim file (file:line: message) and the installed rules; say what is not applied yet",
  options: (y) =>
    y
      .positional("file", {
        type: "string",
        describe: "judge this claim file, not installed yet, with the installed ones (a validate hook's temp file)",
      })
      .option("as", {
        type: "string",
        requiresArg: true,
        describe: "with FILE: its name once installed (NAME.conf); it replaces an installed file of that name",
      })
      .option("applied", {
        type: "boolean",
        default: false,
        describe: `also fail (exit ${EXIT_CODES.notApplied}) when valid claims are not applied yet: stale rules or initramfs holds, a claimed device on a host driver`,
      })
      .example("$0 check", "validate the claims in the config directory")
      .example("$0 check --applied", "also require that apply (and an initramfs rebuild) have followed them")
      .example("$0 check /tmp/tmp.x1 --as 50-gpu.conf", "validate a file before installing it as 50-gpu.conf")
      .epilogue(EXIT_STATUS_HELP),
  handler: (context, args) => runCheck(context, { file: args.file, as: args.as, applied: args.applied }),
});
