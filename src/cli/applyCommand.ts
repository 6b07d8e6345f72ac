/** `apply`: make the machine match the claims; and the rules' refresh after claim or unclaim. */
import * as path from "node:path";
import { applyClaims, installClaimRules } from "../apply/applyClaims.js";
import { completed, type CommandOutcome } from "../binder/outcomes.js";
import { UsageError } from "../errors.js";
import { isSafeKernelRelease } from "../paths.js";
import type { LoadedConfig } from "../config/readClaimConfig.js";
import type { DecisionSources } from "../rules/compileDecisions.js";
import { reloadUdevRules } from "../rules/writeClaimRules.js";
import { bindEnvironment, type CommandContext, defineCommand, warn } from "./commandContext.js";
import { loadValidConfig, quietDecisionSources } from "./machineConfig.js";
import { staleInitramfsLine } from "./notApplied.js";

/** Writes the rules and the hold script from a valid config, if they changed; returns what it wrote. */
function installRules(
  context: CommandContext,
  config: LoadedConfig,
  sources: DecisionSources,
  warnings: string[],
): Promise<string[]> {
  const reloadUdev = (): Promise<string | null> => reloadUdevRules(context.udevadm);
  const { configDir, rulesFile } = context;
  return installClaimRules({ config, configDir, rulesFile, sources, dryRun: false, reloadUdev }, warnings);
}

/** Regenerates the rules after a config change made by claim or unclaim. */
export async function refreshRules(context: CommandContext): Promise<void> {
  const warnings: string[] = [];
  const config = await loadValidConfig(context);
  const lines = await installRules(context, config, quietDecisionSources(context), warnings);
  for (const line of lines) context.output.out(`${line}\n`);
  warn(context, warnings);
}

/**
 * `apply --rules-only [--kernel-release R]`: regenerate the rules (and what goes with them)
 * and nothing else. The kernel install hook runs it for a new kernel, whose aliases are in
 * `/lib/modules/R`; driver names are those of the running kernel's loaded modules.
 */
async function runRulesOnly(context: CommandContext, release: string | undefined): Promise<CommandOutcome> {
  if (release !== undefined && !isSafeKernelRelease(release))
    throw new UsageError(`--kernel-release ${JSON.stringify(release).slice(0, 80)}: not a kernel release`);
  const modulesDir =
    release === undefined || context.modulesDirGiven ? context.modulesDir : path.join(context.modulesBase, release);
  const sources: DecisionSources = {
    ...quietDecisionSources({ ...context, modulesDir }),
    ...(release === undefined ? {} : { release }),
  };
  const warnings: string[] = [];
  const config = await loadValidConfig(context);
  const lines = await installRules(context, config, sources, warnings);
  for (const line of lines.length > 0 ? lines : [`${context.rulesFile} is up to date`]) context.output.out(`${line}\n`);
  // After an upgrade of vfio-autobind (the package runs this) the image's hold script is the old version's.
  const initramfs = release === undefined ? staleInitramfsLine(context, config) : null;
  warn(context, [...warnings, ...(initramfs === null ? [] : [initramfs])]);
  return completed();
}

export async function runApply(
  context: CommandContext,
  options: { dryRun: boolean; rulesOnly?: boolean; kernelRelease?: string; movesOnly?: boolean },
): Promise<CommandOutcome> {
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
  return completed(report.failed);
}

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
