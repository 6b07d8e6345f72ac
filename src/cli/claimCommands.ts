/** `claim`, `unclaim`, `apply`: wiring from the command line. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Argv } from "yargs";
import { applyClaims, installClaimRules, noPciBusLine } from "../apply/applyClaims.js";
import { formatConfigError, parseClaimFile, type Selectors } from "../config/claimConfig.js";
import { claimFileName, claimFileText, type ClaimRequest } from "../config/claimWriter.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import { describeFsError, RuntimeFailure, UsageError } from "../errors.js";
import { FileError, writeFileAtomic } from "../files/safeFiles.js";
import { succeeded } from "../binder/outcomes.js";
import { releaseDevice } from "../binder/releaseDevice.js";
import { isHold } from "../policy/hold.js";
import { selectClaim, selectorsMatch } from "../policy/selectClaim.js";
import { hasPciBus } from "../sysfs/pciDevice.js";
import type { DecisionSources } from "../udev/compileDecisions.js";
import { reloadUdevRules } from "../udev/writeClaimRules.js";
import { bindEnvironment } from "./bindCommands.js";
import { type CommandContext, defineCommand, warn } from "./commandContext.js";
import { configErrors, loadValidConfig, ownerErrors, presentDevices, quietDecisionSources } from "./machineConfig.js";
import { staleInitramfsLine } from "./notApplied.js";
import { DEFAULT_PATHS, isSafeKernelRelease, refuseHostPathUnderTest } from "../paths.js";

/** Regenerates the rules after a config change made by claim or unclaim. */
async function refreshRules(context: CommandContext): Promise<void> {
  const warnings: string[] = [];
  const config = await loadValidConfig(context);
  const line = await installClaimRules(
    {
      config,
      configDir: context.configDir,
      rulesFile: context.rulesFile,
      sources: quietDecisionSources(context),
      dryRun: false,
      reloadUdev: () => reloadUdevRules(context.udevadm),
    },
    warnings,
  );
  if (line !== null) context.output.out(`${line}\n`);
  warn(context, warnings);
}

export async function runClaim(
  context: CommandContext,
  request: ClaimRequest,
  options: { now: boolean; command: string },
): Promise<void> {
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
    refuseHostPathUnderTest(file);
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
  if (options.now) await runApply(context, { dryRun: false });
  else {
    await refreshRules(context);
    context.output.out(
      hasPciBus(context.sysfsRoot)
        ? `new devices are handled from now on; run "vfio-autobind apply" to bind the ones present now\n`
        : `${noPciBusLine(context.sysfsRoot)}\n`,
    );
  }
}

/**
 * Devices held for vfio-autobind but never bound, that no claim selects any more: nothing
 * of a VM's is on them, so unclaim clears their holds at once and the kernel probes them.
 */
async function releaseUnclaimedHolds(context: CommandContext): Promise<void> {
  const config = readClaimConfig(context.configDir);
  if (config.errors.length > 0) return;
  const held = presentDevices(context.sysfsRoot).filter(
    (d) => d.driver === null && isHold(d.driverOverride) && selectClaim(config, d).kind !== "claimed",
  );
  if (held.length === 0) return;
  const env = bindEnvironment(context);
  for (const device of held) {
    const result = await releaseDevice({ address: device.address, force: false, dryRun: false }, env);
    context.output.out(`${result.message}\n`);
    if (!succeeded(result)) context.exitCode = 1;
  }
}

export async function runUnclaim(
  context: CommandContext,
  request: ClaimRequest,
  options: { now: boolean },
): Promise<void> {
  const file = path.join(context.configDir, claimFileName(request));
  if (!fs.existsSync(file)) {
    const config = readClaimConfig(context.configDir);
    const where = [...config.claims, ...config.exclusions].map((c) => `${c.origin.file}:${c.origin.line}`);
    throw new RuntimeFailure(
      `${file} does not exist: no claim was made with these selectors from the command line${where.length > 0 ? `; claims are at ${where.join(", ")}` : ""}; edit those files by hand and run "vfio-autobind apply"`,
    );
  }
  try {
    refuseHostPathUnderTest(file);
    fs.rmSync(file);
  } catch (error) {
    throw new RuntimeFailure(`cannot remove ${file}: ${describeFsError(error)}`);
  }
  context.output.out(`removed ${file}\n`);
  if (options.now) await runApply(context, { dryRun: false });
  else {
    await refreshRules(context);
    await releaseUnclaimedHolds(context);
    context.output.out(`run "vfio-autobind apply" to release devices it had bound\n`);
  }
}

/**
 * `apply --rules-only [--kernel-release R]`: regenerate the rules (and what goes with them)
 * and nothing else. The kernel install hook runs it for a new kernel, whose aliases are in
 * `/lib/modules/R`; driver names are those of the running kernel's loaded modules.
 */
async function runRulesOnly(context: CommandContext, release: string | undefined): Promise<void> {
  if (release !== undefined && !isSafeKernelRelease(release))
    throw new UsageError(`--kernel-release ${JSON.stringify(release).slice(0, 80)}: not a kernel release`);
  const modulesDir =
    release === undefined || context.modulesDirGiven
      ? context.modulesDir
      : path.join(DEFAULT_PATHS.modulesBase, release);
  const sources: DecisionSources = {
    ...quietDecisionSources({ ...context, modulesDir }),
    ...(release === undefined ? {} : { release }),
  };
  const warnings: string[] = [];
  const config = await loadValidConfig(context);
  const line = await installClaimRules(
    {
      config,
      configDir: context.configDir,
      rulesFile: context.rulesFile,
      sources,
      dryRun: false,
      reloadUdev: () => reloadUdevRules(context.udevadm),
    },
    warnings,
  );
  context.output.out(`${line ?? `${context.rulesFile} is up to date`}\n`);
  // After an upgrade of vfio-autobind (the package runs this) the image's hold script is the old version's.
  const initramfs = release === undefined ? staleInitramfsLine(context, config) : null;
  warn(context, [...warnings, ...(initramfs === null ? [] : [initramfs])]);
}

export async function runApply(
  context: CommandContext,
  options: { dryRun: boolean; rulesOnly?: boolean; kernelRelease?: string; movesOnly?: boolean },
): Promise<void> {
  if (options.movesOnly === true && (options.rulesOnly === true || options.kernelRelease !== undefined))
    throw new UsageError("--moves-only cannot be combined with --rules-only or --kernel-release");
  if (options.rulesOnly === true || options.kernelRelease !== undefined) {
    if (options.dryRun) throw new UsageError("--dry-run and --rules-only cannot be combined");
    return runRulesOnly(context, options.kernelRelease);
  }
  const config = await loadValidConfig(context);
  const report = await applyClaims({
    config,
    configDir: context.configDir,
    rulesFile: context.rulesFile,
    env: bindEnvironment(context),
    dryRun: options.dryRun,
    movesOnly: options.movesOnly === true,
    reloadUdev: () => reloadUdevRules(context.udevadm),
  });
  for (const line of report.lines) context.output.out(`${line}\n`);
  // After a module change most runs find nothing to move: the journal gets no line for them.
  if (report.lines.length === 0 && options.movesOnly !== true)
    context.output.out("nothing to do: every claimed device is on its VFIO driver\n");
  const initramfs = staleInitramfsLine(context, config);
  warn(context, [...report.warnings, ...(initramfs === null ? [] : [initramfs])]);
  if (report.failed) context.exitCode = 1;
}

// The command table's entries for the commands above.

/** The selector options shared by claim and unclaim. */
function claimOptions<T>(y: Argv<T>) {
  return y
    .positional("selectors", {
      type: "string",
      array: true,
      describe: "PCI addresses or globs (0000:3b:00.2, 0000:3b:00.*)",
    })
    .option("ids", {
      type: "string",
      array: true,
      requiresArg: true,
      describe: "vendor:device[:subvendor:subdevice], e.g. 15b3:101e",
    })
    .option("class", {
      type: "string",
      array: true,
      requiresArg: true,
      describe: "class code 0xBB, 0xBBSS or 0xBBSSPP, e.g. 0x0302",
    })
    .option("vfs-of", {
      type: "string",
      array: true,
      requiresArg: true,
      describe: "the VFs of this PF, e.g. 0000:3b:00.0",
    });
}

function claimRequestFrom(args: {
  selectors?: string[] | undefined;
  ids?: string[] | undefined;
  class?: string[] | undefined;
  "vfs-of"?: string[] | undefined;
  exclude: boolean;
  driver?: string | undefined;
  group?: string | undefined;
  force?: boolean | undefined;
  owner?: string | undefined;
  mode?: string | undefined;
}): ClaimRequest {
  return {
    addresses: args.selectors ?? [],
    ids: args.ids ?? [],
    classes: args.class ?? [],
    vfsOf: args["vfs-of"] ?? [],
    exclude: args.exclude,
    ...(args.driver !== undefined ? { driver: args.driver } : {}),
    ...(args.group !== undefined ? { group: args.group } : {}),
    force: args.force ?? false,
    ...(args.owner !== undefined ? { owner: args.owner } : {}),
    ...(args.mode !== undefined ? { mode: args.mode } : {}),
  };
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

export const applyCommand = defineCommand({
  command: "apply",
  describe: "make the machine match the claims now: update the rules, bind claimed devices, release unclaimed ones",
  options: (y) =>
    y
      .option("dry-run", { type: "boolean", default: false, describe: "say what would change; change nothing" })
      .option("rules-only", {
        type: "boolean",
        default: false,
        describe: "only regenerate the udev rules from the claims; bind and release nothing",
      })
      .option("moves-only", {
        type: "boolean",
        default: false,
        describe:
          "after a driver module was installed or removed: regenerate the rules, and move claimed devices on a VFIO driver to a better one installed since, unless a process holds them or their claim says Move=apply; bind and release nothing else (the package's path unit and triggers run it)",
      })
      .option("kernel-release", {
        type: "string",
        describe:
          "with --rules-only: compile the rules' driver decisions for this installed kernel (its /lib/modules/RELEASE) instead of the running one; the kernel install hook uses it",
      }),
  handler: (context, args) =>
    runApply(context, {
      dryRun: args["dry-run"],
      rulesOnly: args["rules-only"],
      movesOnly: args["moves-only"],
      ...(args["kernel-release"] === undefined ? {} : { kernelRelease: args["kernel-release"] }),
    }),
});
