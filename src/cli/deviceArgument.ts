/**
 * The device that bind, release and explain name: its positional argument, the address it
 * resolves to, and how bind and release report what they did to it.
 */
import { devicesOutcome, type BindOutcome, type CommandOutcome, type ReleaseOutcome } from "../binder/outcomes.js";
import { parseDeviceReference } from "../sysfs/deviceReference.js";
import { resolveDevice } from "../sysfs/pciDevice.js";
import type { CommandContext } from "./commandContext.js";

/** The device positional of bind, release and explain. */
export const DEVICE_ARGUMENT = { type: "string", describe: "PCI address or sysfs path", demandOption: true } as const;

/**
 * Prints the outcome of bind or release, as JSON or as its line with the --dry-run plan
 * under it, and returns it as the command's outcome.
 */
export function reportDeviceOutcome(
  context: CommandContext,
  outcome: BindOutcome | ReleaseOutcome,
  json: unknown,
  plan: readonly string[],
): CommandOutcome {
  if (context.json) context.output.out(`${JSON.stringify(json, null, 2)}\n`);
  else {
    context.output.out(`${outcome.message}\n`);
    for (const line of plan) context.output.out(`  ${line}\n`);
  }
  return devicesOutcome([outcome]);
}

/** The PCI address a device argument (an address or a sysfs path) names; throws for none. */
export function resolveDeviceArgument(context: CommandContext, argument: string): string {
  return resolveDevice(context.sysfsRoot, parseDeviceReference(argument, context.sysfsRoot));
}
