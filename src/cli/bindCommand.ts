/** `bind`: thin wiring from the command line to the binder. */
import { bindDevice } from "../binder/bindDevice.js";
import { bindOutcomeJson, planOf, type CommandOutcome } from "../binder/outcomes.js";
import { bindEnvironment, type CommandContext, defineCommand } from "./commandContext.js";
import { reportDeviceOutcome, resolveDeviceArgument, DEVICE_ARGUMENT } from "./deviceArgument.js";

export interface BindArguments {
  readonly device: string;
  readonly driver?: string;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly noFallback: boolean;
}

export async function runBind(context: CommandContext, args: BindArguments): Promise<CommandOutcome> {
  const address = resolveDeviceArgument(context, args.device);
  const result = await bindDevice(
    {
      address,
      dryRun: args.dryRun,
      force: args.force,
      noFallback: args.noFallback,
      ...(args.driver !== undefined ? { driver: args.driver } : {}),
    },
    bindEnvironment(context),
  );
  return reportDeviceOutcome(context, result, bindOutcomeJson(result), planOf(result));
}

export const bindCommand = defineCommand({
  command: "bind <device>",
  describe: "bind a device to its best VFIO driver, falling back to the next one, restoring on failure",
  options: (y) =>
    y
      .positional("device", DEVICE_ARGUMENT)
      .option("driver", {
        type: "string",
        requiresArg: true,
        describe: "use only this module or driver (e.g. vfio_pci or vfio-pci)",
      })
      .option("dry-run", {
        type: "boolean",
        default: false,
        describe: "print the safety verdict, candidates and writes; change nothing",
      })
      .option("force", {
        type: "boolean",
        default: false,
        describe:
          "take the device even if the host is using it (never bridges, PFs with VFs, or a device a process holds through /dev/vfio)",
      })
      .option("no-fallback", { type: "boolean", default: false, describe: "try only the best candidate" })
      .example("$0 bind 0000:3b:00.2", "bind to the most specific VFIO driver")
      .example("$0 bind 3b:00.2 --driver vfio-pci", "bind to generic vfio-pci only")
      .example("$0 bind 3b:00.2 --dry-run", "show what would happen"),
  handler: (context, args) =>
    runBind(context, {
      device: args.device,
      ...(args.driver !== undefined ? { driver: args.driver } : {}),
      dryRun: args["dry-run"],
      force: args.force,
      noFallback: args["no-fallback"],
    }),
});
