/** `hold-script`: the boot-time hold script from the claims, for the initramfs hooks and admins. */
import { completed, type CommandOutcome } from "../binder/outcomes.js";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../files/safeFiles.js";
import { generateHoldScript } from "../hold/holdScript.js";
import { removeInitramfsStamp, writeInitramfsStamp } from "../hold/initramfsStamp.js";
import { isSafeKernelRelease } from "../paths.js";
import { loadValidConfig } from "./machineConfig.js";
import { type CommandContext, defineCommand } from "./commandContext.js";

export interface HoldScriptOptions {
  readonly output: string | undefined;
  readonly stamp: string | undefined;
  readonly countClaims: boolean;
}

export async function runHoldScript(context: CommandContext, options: HoldScriptOptions): Promise<CommandOutcome> {
  const release = options.stamp;
  if (release !== undefined && !isSafeKernelRelease(release))
    throw new UsageError(
      `--stamp ${JSON.stringify(release).slice(0, 80)}: not a kernel release such as 6.1.0-28-amd64`,
    );
  let script: string;
  let claims: number;
  try {
    const config = await loadValidConfig(context);
    script = generateHoldScript(config, config.digest);
    claims = config.claims.length;
    if (options.countClaims) {
      context.output.out(`${claims}\n`);
      return completed();
    }
    if (options.output === undefined) context.output.out(script);
    else writeFileAtomic(options.output, script, { mode: 0o644, dirMode: 0o755 });
    if (release !== undefined) writeInitramfsStamp(context.configDir, release, config.digest);
  } catch (error) {
    // An image that got no script must not be recorded as holding the claims.
    if (release !== undefined) removeInitramfsStamp(context.configDir, release);
    throw error;
  }
  return completed();
}

export const holdScriptCommand = defineCommand({
  command: "hold-script",
  describe:
    "print the boot-time hold script generated from the claims: it holds claimed devices before udev's coldplug (the initramfs hooks run this)",
  options: (y) =>
    y
      .option("output", {
        type: "string",
        requiresArg: true,
        describe: "write the script to this file instead of printing it",
      })
      .option("stamp", {
        type: "string",
        requiresArg: true,
        describe:
          "record that the initramfs of this kernel release holds these claims, so that status can tell when it is stale (the initramfs hooks give it)",
      })
      .option("count-claims", {
        type: "boolean",
        default: false,
        describe: "print the number of claims instead of the script (dracut's check() asks)",
      })
      .example("$0 hold-script", "see what the initramfs and vfio-autobind-hold.service run at boot"),
  handler: (context, args) =>
    runHoldScript(context, { output: args.output, stamp: args.stamp, countClaims: args["count-claims"] }),
});
