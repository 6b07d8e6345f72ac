/** `release`: thin wiring from the command line to the binder. */
import type { CommandOutcome } from "../binder/outcomes.js";
import { releaseDevice } from "../binder/releaseDevice.js";
import { bindEnvironment, type CommandContext, defineCommand } from "./commandContext.js";
import { reportDeviceOutcome, resolveDeviceArgument, DEVICE_ARGUMENT } from "./deviceArgument.js";

export async function runRelease(
  context: CommandContext,
  args: { device: string; force: boolean; dryRun: boolean },
): Promise<CommandOutcome> {
  const address = resolveDeviceArgument(context, args.device);
  const result = await releaseDevice({ address, force: args.force, dryRun: args.dryRun }, bindEnvironment(context));
  return reportDeviceOutcome(context, result, result, result.plan ?? []);
}

export const releaseCommand = defineCommand({
  command: "release <device>",
  describe: "give a device bound by vfio-autobind back to the driver it had before",
  options: (y) =>
    y
      .positional("device", DEVICE_ARGUMENT)
      .option("force", {
        type: "boolean",
        default: false,
        describe:
          "also release a device vfio-autobind did not bind (the kernel picks its driver); never one a process holds through /dev/vfio",
      })
      .option("dry-run", { type: "boolean", default: false, describe: "say what would happen; change nothing" })
      .example("$0 release 0000:3b:00.2", "return the device to its host driver"),
  handler: (context, args) => runRelease(context, { device: args.device, force: args.force, dryRun: args["dry-run"] }),
});
