/** `bind` and `release`: thin wiring from the command line to the binder. */
import { bindDevice, type BindEnvironment } from "../binder/bindDevice.js";
import { bindOutcomeJson, exitCodeFor, planOf } from "../binder/outcomes.js";
import { releaseDevice, type ReleaseOutcome } from "../binder/releaseDevice.js";
import { makeBindEnvironment } from "../binder/bindEnvironment.js";
import { parseDeviceReference } from "../sysfs/deviceReference.js";
import { resolveDevice } from "../sysfs/pciDevice.js";
import { type CommandContext, defineCommand, warn } from "./commandContext.js";

export function bindEnvironment(context: CommandContext): BindEnvironment {
  return makeBindEnvironment(context, context.adapters.kernelIo(context.sysfsRoot), (warnings) =>
    warn(context, warnings),
  );
}

function resolve(context: CommandContext, argument: string): string {
  return resolveDevice(context.sysfsRoot, parseDeviceReference(argument, context.sysfsRoot));
}

export interface BindArguments {
  readonly device: string;
  readonly driver?: string;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly noFallback: boolean;
}

export async function runBind(context: CommandContext, args: BindArguments): Promise<void> {
  const address = resolve(context, args.device);
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
  if (context.json) context.output.out(`${JSON.stringify(bindOutcomeJson(result), null, 2)}\n`);
  else {
    context.output.out(`${result.message}\n`);
    for (const line of planOf(result)) context.output.out(`  ${line}\n`);
  }
  context.exitCode = exitCodeFor([result]);
}

export async function runRelease(
  context: CommandContext,
  args: { device: string; force: boolean; dryRun: boolean },
): Promise<void> {
  const address = resolve(context, args.device);
  const result: ReleaseOutcome = await releaseDevice(
    { address, force: args.force, dryRun: args.dryRun },
    bindEnvironment(context),
  );
  context.output.out(context.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.message}\n`);
  context.exitCode = exitCodeFor([result]);
}

export const bindCommand = defineCommand({
  command: "bind <device>",
  describe: "bind a device to its best VFIO driver, falling back to the next one, restoring on failure",
  options: (y) =>
    y
      .positional("device", { type: "string", describe: "PCI address or sysfs path", demandOption: true })
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

export const releaseCommand = defineCommand({
  command: "release <device>",
  describe: "give a device bound by vfio-autobind back to the driver it had before",
  options: (y) =>
    y
      .positional("device", { type: "string", describe: "PCI address or sysfs path", demandOption: true })
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
