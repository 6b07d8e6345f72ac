/** `unclaim`: remove a claim file made by claim, update the rules, and clear holds no claim wants. */
import * as fs from "node:fs";
import * as path from "node:path";
import { devicesOutcome, type CommandOutcome } from "../binder/outcomes.js";
import { releaseDevice, type ReleaseOutcome } from "../binder/releaseDevice.js";
import { claimFileName, type ClaimRequest } from "../config/claimWriter.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import { describeFsError, RuntimeFailure } from "../errors.js";
import { isHold } from "../policy/hold.js";
import { selectClaim } from "../policy/selectClaim.js";
import { refreshRules, runApply } from "./applyCommand.js";
import { claimOptions, claimRequestFrom } from "./claimSelectors.js";
import { bindEnvironment, type CommandContext, defineCommand } from "./commandContext.js";
import { presentDevices } from "./machineConfig.js";

/**
 * Devices held for vfio-autobind but never bound, that no claim selects any more: nothing
 * of a VM's is on them, so unclaim clears their holds at once and the kernel probes them.
 */
async function releaseUnclaimedHolds(context: CommandContext): Promise<ReleaseOutcome[]> {
  const config = readClaimConfig(context.configDir);
  if (config.errors.length > 0) return [];
  const held = presentDevices(context.sysfsRoot).filter(
    (d) => d.driver === null && isHold(d.driverOverride) && selectClaim(config, d).kind !== "claimed",
  );
  if (held.length === 0) return [];
  const env = bindEnvironment(context);
  const outcomes: ReleaseOutcome[] = [];
  for (const device of held) {
    const result = await releaseDevice({ address: device.address, force: false, dryRun: false }, env);
    context.output.out(`${result.message}\n`);
    outcomes.push(result);
  }
  return outcomes;
}

export async function runUnclaim(
  context: CommandContext,
  request: ClaimRequest,
  options: { now: boolean },
): Promise<CommandOutcome> {
  const file = path.join(context.configDir, claimFileName(request));
  if (!fs.existsSync(file)) {
    const config = readClaimConfig(context.configDir);
    const where = [...config.claims, ...config.exclusions].map((c) => `${c.origin.file}:${c.origin.line}`);
    throw new RuntimeFailure(
      `${file} does not exist: no claim was made with these selectors from the command line${where.length > 0 ? `; claims are at ${where.join(", ")}` : ""}; edit those files by hand and run "vfio-autobind apply"`,
    );
  }
  try {
    fs.rmSync(file);
  } catch (error) {
    throw new RuntimeFailure(`cannot remove ${file}: ${describeFsError(error)}`);
  }
  context.output.out(`removed ${file}\n`);
  if (options.now) return runApply(context, { dryRun: false });
  await refreshRules(context);
  const released = await releaseUnclaimedHolds(context);
  context.output.out(`run "vfio-autobind apply" to release devices it had bound\n`);
  return devicesOutcome(released);
}

export const unclaimCommand = defineCommand({
  command: "unclaim [selectors..]",
  describe: "remove a claim made with claim (same selectors) and update the udev rules",
  options: (y) =>
    claimOptions(y)
      .option("exclude", {
        type: "boolean",
        default: false,
        describe: "remove an exclusion made with claim --exclude",
      })
      .option("now", {
        type: "boolean",
        default: false,
        describe: "also apply at once (release what it had bound)",
      })
      .example("$0 unclaim 0000:3b:00.2 --now", "stop claiming a device and give it back now"),
  handler: (context, args) => runUnclaim(context, claimRequestFrom(args), { now: args.now }),
});
