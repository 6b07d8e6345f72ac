/**
 * The udev helper process, `vfio-autobind udev-event` as the packaged rule runs it: its
 * arguments, its deadline and its journal lines, around handleAddEvent (which decides).
 * Arguments are parsed by helperArgs.ts, as node:util's parseArgs would, rather than by yargs:
 * this path runs once per claimed device at boot, and the command-line machinery is never
 * loaded on it.
 */
import { makeBindEnvironment } from "../binder/bindEnvironment.js";
import type { Adapters } from "../binder/kernelIo.js";
import { journalLog } from "../journal/decisionLog.js";
import { DEFAULT_PATHS, defaultModulesDir } from "../paths.js";
import { budgetFrom, seconds, UDEV_EVENT_BACKSTOP_MS, UDEV_EVENT_BUDGET_MS } from "../binder/budget.js";
import { readBoundDriver } from "../sysfs/pciDevice.js";
import { handleAddEvent } from "./handleAddEvent.js";
import { parseHelperArgs } from "./helperArgs.js";
import { HELPER_OPTIONS } from "./helperOptions.js";

/** Where modprobe lives on every distribution we ship for. */
export const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * udevd runs RUN programs with the device's properties as their whole environment, so
 * there is no PATH, and modprobe (in /usr/sbin) would not be found. Set the system's.
 */
export function ensureSystemPath(env: NodeJS.ProcessEnv): void {
  if (env["PATH"] === undefined || env["PATH"] === "") env["PATH"] = SYSTEM_PATH;
}

export async function runUdevHelper(
  argv: readonly string[],
  event: NodeJS.ProcessEnv,
  adapters: Adapters,
): Promise<number> {
  let values;
  try {
    const given = parseHelperArgs(argv, HELPER_OPTIONS);
    values = {
      "sysfs-root": given["sysfs-root"] ?? DEFAULT_PATHS.sysfsRoot,
      "modules-dir": given["modules-dir"],
      "state-dir": given["state-dir"] ?? DEFAULT_PATHS.stateDir,
      "proc-root": given["proc-root"] ?? DEFAULT_PATHS.procRoot,
      "dev-root": given["dev-root"] ?? DEFAULT_PATHS.devRoot,
      "config-dir": given["config-dir"] ?? DEFAULT_PATHS.configDir,
      "modprobe-root": given["modprobe-root"] ?? DEFAULT_PATHS.modprobeRoot,
      kmsg: given["kmsg"] ?? DEFAULT_PATHS.kmsg,
      "journal-socket": given["journal-socket"] ?? DEFAULT_PATHS.journalSocket,
    };
  } catch (error) {
    process.stderr.write(`vfio-autobind udev-event: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  // Other actions and subsystems never reach here through the packaged rule; if they do,
  // they are not ours to log about.
  if (event["ACTION"] !== "add" || event["SUBSYSTEM"] !== "pci") return 0;
  ensureSystemPath(process.env);
  const log = journalLog({ kmsg: values.kmsg, journalSocket: values["journal-socket"] });
  const sysfsRoot = values["sysfs-root"];
  // The bind sequence spends this budget and stops in a safe state before it runs out. The
  // backstop fires only if something blocked past it (a kernel write that hangs cannot be
  // interrupted): it says where the device is, then exits before udevd kills the worker.
  // Milliseconds since this process started, as performance.now() counts them; the global
  // `performance` would load perf_hooks (eight modules) into every event for one number.
  const sinceStart = (): number => process.uptime() * 1000;
  const budget = budgetFrom(sinceStart, UDEV_EVENT_BUDGET_MS - sinceStart());
  const backstop = setTimeout(() => {
    const address = event["PCI_SLOT_NAME"] ?? "?";
    let where = "unknown";
    try {
      where = readBoundDriver(sysfsRoot, address) ?? "no driver";
    } catch {
      // the address was not a device name; "unknown" says as much
    }
    log.error(
      `${address}: still running after ${seconds(UDEV_EVENT_BACKSTOP_MS)} s, so something blocked; exiting before udev's own timeout with the device on ${where}; run "vfio-autobind status"`,
    );
    void log.close().then(() => process.exit(1));
  }, UDEV_EVENT_BACKSTOP_MS - sinceStart());
  backstop.unref();
  try {
    const env = makeBindEnvironment(
      {
        sysfsRoot,
        procRoot: values["proc-root"],
        devRoot: values["dev-root"],
        stateDir: values["state-dir"],
        modulesDir: values["modules-dir"] ?? defaultModulesDir(),
        modprobeRoot: values["modprobe-root"],
      },
      adapters.kernelIo(sysfsRoot),
      (warnings) => warnings.forEach((w) => log.error(w)),
      budget,
    );
    return await handleAddEvent(event, { configDir: values["config-dir"], env, log });
  } catch (error) {
    // Whatever it was, say it in the journal, where the admin will look.
    log.error(`${event["PCI_SLOT_NAME"] ?? "?"}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    clearTimeout(backstop);
    await log.close();
  }
}
