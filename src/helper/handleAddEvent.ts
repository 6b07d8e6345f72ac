/**
 * The udev helper's one action: an add event of a claimed device, handled within its
 * deadline. Around the decision (decideAddEvent.ts): the event's budget and backstop, the
 * signals that may end the process, the hold that must not outlive it, and the journal lines.
 */
import { makeBindEnvironment } from "../binder/bindEnvironment.js";
import type { Adapters } from "../binder/kernelIo.js";
import { journalLog } from "../journal/decisionLog.js";
import { budgetFrom, seconds, UDEV_EVENT_BACKSTOP_MS, UDEV_EVENT_BUDGET_MS } from "../binder/budget.js";
import { describeRelease, foundHeld } from "../binder/failOpen.js";
import { eventLines } from "./eventLines.js";
import { decideAddEvent, eventAddress, rulesDecisionOf } from "./decideAddEvent.js";
import type { HelperOptions } from "./helperOptions.js";
import { NODE_PROCESS, type HelperProcess } from "./helperProcess.js";
import { holdGuard } from "./holdGuard.js";
import { EXIT_CODES } from "../binder/outcomes.js";

/** Where modprobe lives on every distribution we ship for. */
export const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * udevd runs RUN programs with the device's properties as their whole environment, so
 * there is no PATH, and modprobe (in /usr/sbin) would not be found. Set the system's.
 */
export function ensureSystemPath(env: NodeJS.ProcessEnv): void {
  if (env["PATH"] === undefined || env["PATH"] === "") env["PATH"] = SYSTEM_PATH;
}

/**
 * Handles one add event of a claimed device: decides and binds (decideAddEvent.ts) within the
 * event's budget, lets go of a hold whatever ends the event, and writes its journal lines.
 * Resolves to the exit code.
 */
export async function handleAddEvent(
  options: HelperOptions,
  event: NodeJS.ProcessEnv,
  adapters: Adapters,
  proc: HelperProcess = NODE_PROCESS,
): Promise<number> {
  // Other actions and subsystems never reach here through the packaged rule; if they do,
  // they are not ours to log about.
  if (event["ACTION"] !== "add" || event["SUBSYSTEM"] !== "pci") return EXIT_CODES.ok;
  ensureSystemPath(process.env);
  const log = journalLog(options);
  const { sysfsRoot } = options;
  const address = eventAddress(event);
  // Whatever ends the event, a hold of ours on a device left with no driver is let go of
  // (holdGuard.ts), and the one line for the event says so.
  const guard = holdGuard(sysfsRoot, address, rulesDecisionOf(event)?.driver ?? null, adapters.kernelIo(sysfsRoot));
  const lines = eventLines();
  /** Ends the event and the process before the event was handled: a signal, the backstop. */
  const endEarly = (cause: string, what: string): void => {
    clearTimeout(backstop);
    stopWatching();
    const release = guard.end();
    if (release !== null) {
      const note = foundHeld(release) ? describeRelease(release, cause) : null;
      lines.flush(log, address, note, `${what}; ${describeRelease(release, null)}`);
    }
    void log.close().then(() => proc.exit(EXIT_CODES.failure));
  };
  const stopWatching = proc.onStop((cause) => endEarly(cause, `${address}: stopped by ${cause} before it was handled`));
  // The bind sequence spends this budget and stops in a safe state before it runs out. The
  // backstop fires only if something blocked past it (a kernel write that hangs cannot be
  // interrupted): it lets go of a hold and exits before udevd kills the worker.
  const budget = budgetFrom(() => proc.uptimeMs(), UDEV_EVENT_BUDGET_MS - proc.uptimeMs());
  const backstopS = seconds(UDEV_EVENT_BACKSTOP_MS);
  const backstop = setTimeout(
    () =>
      endEarly(
        `${backstopS} s`,
        `${address}: still running after ${backstopS} s, so something blocked; exiting before udev's own timeout`,
      ),
    UDEV_EVENT_BACKSTOP_MS - proc.uptimeMs(),
  );
  backstop.unref();
  let code: number;
  let cause = "the event left it held";
  try {
    const env = makeBindEnvironment(options, guard.kernel, (warnings) => warnings.forEach((w) => log.error(w)), budget);
    code = await decideAddEvent(event, { configDir: options.configDir, env, log: lines });
  } catch (error) {
    // Whatever it was, say it in the journal, where the admin will look.
    lines.error(`${address}: ${error instanceof Error ? error.message : String(error)}`);
    cause = "this error";
    code = EXIT_CODES.failure;
  }
  clearTimeout(backstop);
  stopWatching();
  const release = guard.end();
  // Null: a signal or the backstop ended the event first, and said so.
  if (release === null) return EXIT_CODES.failure;
  const held = foundHeld(release);
  lines.flush(
    log,
    address,
    held ? describeRelease(release, cause) : null,
    held ? `${address}: ${describeRelease(release, cause)}` : null,
  );
  await log.close();
  return held ? EXIT_CODES.failure : code;
}
