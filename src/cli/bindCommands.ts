/** `bind` and `release`: thin wiring from the command line to the binder. */
import { bindDevice, type BindEnvironment } from "../binder/bindDevice.js";
import { bindOutcomeJson, planOf } from "../binder/outcomes.js";
import { releaseDevice, type ReleaseOutcome } from "../binder/releaseDevice.js";
import { makeBindEnvironment } from "../binder/bindEnvironment.js";
import { parseDeviceReference } from "../sysfs/deviceReference.js";
import { resolveDevice } from "../sysfs/pciDevice.js";
import { type CommandContext, warn } from "./commandContext.js";

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
  if (result.status === "refused" || result.status === "failed" || result.status === "removed") context.exitCode = 1;
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
  if (result.status !== "released" && result.status !== "planned") context.exitCode = 1;
}
