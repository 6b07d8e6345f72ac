/**
 * The command line: yargs wiring and nothing else. Each command's work lives in its own
 * module; this file maps options to a context, errors to one line, and outcomes to the exit
 * code (0 done, 1 failed at run time, 2 usage).
 */
import yargs, { type Argv } from "yargs";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, RuntimeFailure, UsageError } from "../errors.js";
import { VERSION } from "../version.js";
import { DEFAULT_PATHS } from "../paths.js";
import { type Adapters, realKernelIo } from "../binder/kernelIo.js";
import { runBind, runRelease } from "./bindCommands.js";
import { runApply, runCheck, runClaim, runClaims, runStatus, runUnclaim } from "./claimCommands.js";
import type { ClaimRequest } from "../config/claimWriter.js";
import { type CommandContext, type GlobalArguments, globalOptionsFrom, type Output } from "./commandContext.js";
import { runExplain } from "./explainCommand.js";
import { runList } from "./listCommand.js";

const EPILOGUE =
  "Devices may be named by address (0000:3b:00.2 or 3b:00.2) or by sysfs path.\n" +
  "Exit status: 0 success, 1 failure, 2 usage error.";

const REAL_ADAPTERS: Adapters = { kernelIo: () => realKernelIo };

export async function runCli(
  argv: readonly string[],
  output: Output,
  adapters: Adapters = REAL_ADAPTERS,
): Promise<number> {
  // The command that runs sets exitCode on its context; it is read back at the end.
  const contexts: CommandContext[] = [];
  const contextFrom = (args: GlobalArguments): CommandContext => {
    const context: CommandContext = { ...globalOptionsFrom(args), output, adapters, exitCode: EXIT_OK };
    contexts.push(context);
    return context;
  };

  const parser = yargs([...argv])
    .scriptName("vfio-autobind")
    .usage("Usage: $0 <command> [options]\n\nBind claimed PCI devices to their most specific VFIO driver.")
    .option("sysfs-root", {
      type: "string",
      default: DEFAULT_PATHS.sysfsRoot,
      describe: "sysfs to read (a test tree instead of /sys)",
      requiresArg: true,
    })
    .option("modules-dir", {
      type: "string",
      describe: "kernel module directory holding modules.alias",
      defaultDescription: `${DEFAULT_PATHS.modulesBase}/$(uname -r)`,
      requiresArg: true,
    })
    .option("state-dir", {
      type: "string",
      default: DEFAULT_PATHS.stateDir,
      describe: "where bind records and locks are kept",
      requiresArg: true,
    })
    .option("config-dir", {
      type: "string",
      default: DEFAULT_PATHS.configDir,
      describe: "directory of claim files (*.conf, read in name order)",
      requiresArg: true,
    })
    .option("rules-file", {
      type: "string",
      default: DEFAULT_PATHS.rulesFile,
      describe: "the udev rules generated from the claims",
      requiresArg: true,
    })
    // Where /proc is, for tests that fake mounts and swaps; not for admins.
    .option("proc-root", { type: "string", default: DEFAULT_PATHS.procRoot, hidden: true, requiresArg: true })
    // Where modprobe.d is read, for tests that need a module blacklist of their own.
    .option("modprobe-root", { type: "string", default: DEFAULT_PATHS.modprobeRoot, hidden: true, requiresArg: true })
    // The udevadm that reloads rules, for tests that must not touch the host's udevd.
    .option("udevadm", { type: "string", default: "udevadm", hidden: true, requiresArg: true })
    .option("json", { type: "boolean", default: false, describe: "print JSON instead of text" })
    .command(
      "list",
      "list every PCI device with its driver, IOMMU group and best VFIO module",
      (y) => y.example("$0 list", "show all PCI devices").example("$0 list --json", "the same as a JSON array"),
      (args) => runList(contextFrom(args)),
    )
    .command(
      "explain <device>",
      "show every VFIO driver that matches a device, in rank order, and why",
      (y) =>
        y
          .positional("device", { type: "string", describe: "PCI address or sysfs path", demandOption: true })
          .example("$0 explain 0000:3b:00.2", "rank the VFIO drivers for one device")
          .example("$0 explain /sys/bus/pci/devices/0000:3b:00.2 --json", "the same, as JSON"),
      (args) => runExplain(contextFrom(args), args.device),
    )
    .command(
      "bind <device>",
      "bind a device to its best VFIO driver, falling back to the next one, restoring on failure",
      (y) =>
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
            describe: "take the device even if the host is using it (never bridges or PFs with VFs)",
          })
          .option("no-fallback", { type: "boolean", default: false, describe: "try only the best candidate" })
          .example("$0 bind 0000:3b:00.2", "bind to the most specific VFIO driver")
          .example("$0 bind 3b:00.2 --driver vfio-pci", "bind to generic vfio-pci only")
          .example("$0 bind 3b:00.2 --dry-run", "show what would happen"),
      (args) =>
        runBind(contextFrom(args), {
          device: args.device,
          ...(args.driver !== undefined ? { driver: args.driver } : {}),
          dryRun: args["dry-run"],
          force: args.force,
          noFallback: args["no-fallback"],
        }),
    )
    .command(
      "release <device>",
      "give a device bound by vfio-autobind back to the driver it had before",
      (y) =>
        y
          .positional("device", { type: "string", describe: "PCI address or sysfs path", demandOption: true })
          .option("force", {
            type: "boolean",
            default: false,
            describe: "also release a device vfio-autobind did not bind (the kernel picks its driver)",
          })
          .option("dry-run", { type: "boolean", default: false, describe: "say what would happen; change nothing" })
          .example("$0 release 0000:3b:00.2", "return the device to its host driver"),
      (args) => runRelease(contextFrom(args), { device: args.device, force: args.force, dryRun: args["dry-run"] }),
    )
    .command(
      "claim [selectors..]",
      "hand devices to VFIO from now on: write a claim file and update the udev rules",
      (y) =>
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
          .example("$0 claim --class 0x0108 --exclude 0000:01:00.0", "NVMe drives except the boot one"),
      (args) =>
        runClaim(contextFrom(args), claimRequestFrom(args), {
          now: args.now,
          command: `vfio-autobind ${argv.join(" ")}`,
        }),
    )
    .command(
      "unclaim [selectors..]",
      "remove a claim made with claim (same selectors) and update the udev rules",
      (y) =>
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
      (args) => runUnclaim(contextFrom(args), claimRequestFrom(args), { now: args.now }),
    )
    .command(
      "claims",
      "list the claims and exclusions, and the devices each selects now",
      (y) => y,
      (args) => runClaims(contextFrom(args)),
    )
    .command(
      "check",
      "validate every claim file (file:line: message) and the generated rules",
      (y) => y,
      (args) => runCheck(contextFrom(args)),
    )
    .command(
      "apply",
      "make the machine match the claims now: update the rules, bind claimed devices, release unclaimed ones",
      (y) =>
        y.option("dry-run", { type: "boolean", default: false, describe: "say what would change; change nothing" }),
      (args) => runApply(contextFrom(args), { dryRun: args["dry-run"] }),
    )
    .command(
      "status",
      "show the devices vfio-autobind has bound, from its records",
      (y) => y,
      (args) => runStatus(contextFrom(args)),
    )
    .completion("completion", "print a bash completion script (source it, or save it to bash-completion's directory)")
    .demandCommand(1, "Give a command, such as list, explain, claim or apply. See --help.")
    .recommendCommands()
    .strict()
    .version(VERSION)
    .help()
    .alias("help", "h")
    .epilogue(EPILOGUE)
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .exitProcess(false)
    // No camelCase twins or --no-* negations: they only make "Unknown argument" messages
    // name options the admin never typed.
    .parserConfiguration({ "camel-case-expansion": false, "boolean-negation": false })
    .fail((message, error) => {
      // yargs reports its own parse problems as YError: those are usage errors too.
      if (error instanceof Error && error.name !== "YError") throw error;
      throw new UsageError(message ?? (error instanceof Error ? error.message : "invalid command line"));
    });

  try {
    await parser.parseAsync();
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(`vfio-autobind: ${error.message}\nTry 'vfio-autobind --help'.\n`);
      return EXIT_USAGE;
    }
    if (error instanceof RuntimeFailure) {
      output.err(`vfio-autobind: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    const message = error instanceof Error ? error.message : String(error);
    output.err(`vfio-autobind: unexpected error: ${message}\n`);
    if (process.env["VFIO_AUTOBIND_DEBUG"] && error instanceof Error) output.err(`${error.stack}\n`);
    return EXIT_FAILURE;
  }
  return contexts[0]?.exitCode ?? EXIT_OK;
}

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
  };
}
