/** `claim`: write a claim file from the command line, and update the rules (or apply at once). */
import * as fs from "node:fs";
import * as path from "node:path";
import { noPciBusLine } from "../apply/applyClaims.js";
import { completed, type CommandOutcome } from "../binder/outcomes.js";
import { formatConfigError, parseClaimFile, type Selectors } from "../config/claimConfig.js";
import { claimFileName, claimFileText, type ClaimRequest } from "../config/claimWriter.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { FileError, writeFileAtomic } from "../files/safeFiles.js";
import { selectorsMatch } from "../policy/selectClaim.js";
import { hasPciBus } from "../sysfs/pciDevice.js";
import { refreshRules, runApply } from "./applyCommand.js";
import { claimOptions, claimRequestFrom } from "./claimSelectors.js";
import { type CommandContext, defineCommand } from "./commandContext.js";
import { configErrors, ownerErrors, presentDevices } from "./machineConfig.js";

export async function runClaim(
  context: CommandContext,
  request: ClaimRequest,
  options: { now: boolean; command: string },
): Promise<CommandOutcome> {
  if (request.addresses.length + request.ids.length + request.classes.length + request.vfsOf.length === 0) {
    throw new UsageError("give at least one selector: an address, --ids, --class or --vfs-of");
  }
  const name = claimFileName(request);
  const file = path.join(context.configDir, name);
  const text = claimFileText(request);
  const parsed = parseClaimFile(text, "(command line)");
  if (parsed.errors.length > 0) throw new UsageError(parsed.errors.map((e) => e.message).join("; "));
  // An --owner udev would not apply would make the whole config invalid: refuse it unwritten.
  const owner = (await ownerErrors(context, parsed.claims))[0];
  if (owner !== undefined)
    throw new UsageError(`--owner ${request.owner ?? ""}: ${owner.message.replace(/^Owner=: /, "")}`);
  if (fs.existsSync(file))
    throw new RuntimeFailure(`${file} already exists; edit it, or remove it with "vfio-autobind unclaim" first`);
  // What is wrong with the config already, so that only what this claim would add counts.
  const problems = async (): Promise<string[]> =>
    (await configErrors(context, readClaimConfig(context.configDir))).map(formatConfigError);
  const before = new Set(await problems());
  try {
    // exclusive: a claim file that appeared since the check above is never replaced
    writeFileAtomic(file, text, { mode: 0o644, exclusive: true });
  } catch (error) {
    if (error instanceof FileError && error.code === "EEXIST")
      throw new RuntimeFailure(`${file} already exists; edit it, or remove it with "vfio-autobind unclaim" first`);
    throw error;
  }
  // A claim that clashes with the others (one IOMMU group, two owners) would make apply and
  // the udev helper refuse every claim: it is taken back, and nothing else changes.
  const introduced = (await problems()).filter((problem) => !before.has(problem));
  if (introduced.length > 0) {
    fs.rmSync(file, { force: true });
    throw new UsageError(`not claimed, nothing written: ${introduced.join("; ")}`);
  }
  context.output.out(`wrote ${file}\n`);
  const kind = request.exclude ? "excludes" : "selects";
  const written = (request.exclude ? parsed.exclusions[0] : parsed.claims[0]) as { selectors: Selectors };
  if (hasPciBus(context.sysfsRoot)) {
    const selected = presentDevices(context.sysfsRoot)
      .filter((d) => selectorsMatch(written.selectors, d))
      .map((d) => d.address);
    context.output.out(`it ${kind} ${selected.length === 0 ? "no device present now" : selected.join(", ")}\n`);
  }
  if (options.now) return runApply(context, { dryRun: false });
  await refreshRules(context);
  context.output.out(
    hasPciBus(context.sysfsRoot)
      ? `new devices are handled from now on; run "vfio-autobind apply" to bind the ones present now\n`
      : `${noPciBusLine(context.sysfsRoot)}\n`,
  );
  return completed();
}

export const claimCommand = defineCommand({
  command: "claim [selectors..]",
  describe: "hand devices to VFIO from now on: write a claim file and update the udev rules",
  options: (y) =>
    claimOptions(y)
      .option("driver", {
        type: "string",
        requiresArg: true,
        describe: "pin a module or driver instead of the best match (e.g. vfio-pci)",
      })
      .option("group", {
        choices: ["ignore", "check", "bind"] as const,
        describe: "what to do about other devices in the IOMMU group",
        defaultDescription: "check",
      })
      .option("force", { type: "boolean", default: false, describe: "take devices even if the host is using them" })
      .option("owner", {
        type: "string",
        requiresArg: true,
        describe: "USER[:GROUP] to own the devices' /dev/vfio nodes, for an unprivileged VMM (names or numbers)",
      })
      .option("mode", {
        type: "string",
        requiresArg: true,
        describe: "mode of the devices' /dev/vfio nodes, e.g. 0660",
      })
      .option("exclude", {
        type: "boolean",
        default: false,
        describe: "write an exclusion instead: never bind these",
      })
      .option("now", {
        type: "boolean",
        default: false,
        describe: "also apply at once (bind matching devices present now)",
      })
      .example("$0 claim 0000:3b:00.2", "one device, by address")
      .example("$0 claim --ids 10de:2342 --group bind", "every GPU of this model, with its IOMMU group")
      .example("$0 claim --vfs-of 0000:3b:00.0", "every VF of a NIC, as they are created")
      .example("$0 claim 0000:3b:00.2 --owner qemu:kvm --mode 0660", "a device for a VMM running as qemu")
      .example("$0 claim --class 0x0108 --exclude 0000:01:00.0", "NVMe drives except the boot one"),
  handler: (context, args, invocation) =>
    runClaim(context, claimRequestFrom(args), {
      now: args.now,
      command: `vfio-autobind ${invocation.argv.join(" ")}`,
    }),
});
