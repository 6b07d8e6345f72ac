/**
 * Reading the journal windows the udev scenarios report (shared/protocol.ts JournalWindow):
 * which helper processes udevd started, for which device, with which PID and exit status
 * (from udevd's debug log), and which tool lines name which device. Pure but for reading the
 * packaged rule's command; the test files assert on the results.
 */
import type { JournalWindow, ToolJournalEntry } from "./shared/protocol.js";
import { ruleHelperCommand } from "../../support/packagedCommands.js";
import { REPO_ROOT } from "./host/paths.js";

/** The packaged rule's command, as udevd names it in its log. */
export const HELPER_COMMAND = ruleHelperCommand(REPO_ROOT);

/** One RUN of the helper, as udevd logged it. */
export interface HelperRun {
  /** The device of the event (udevd prefixes its lines with the device's name). */
  readonly device: string;
  /** The udev worker that ran it. */
  readonly workerPid: number | null;
  /** The helper's own PID ("Successfully forked off '(spawn)' as PID n" right after "Running command"). */
  readonly helperPid: number | null;
  /** 0 for "succeeded", n for "failed with exit code n", null when udevd logged no end. */
  readonly exitCode: number | null;
}

/**
 * Where udevd queued the helper: "<device>: <rules file>:<line> RUN '<command>'" in
 * systemd 252 and 257, "<device>: <rules file>:<line> RUN+="<command>": Set command: <command>" (systemd 262).
 */
export interface QueuedRun {
  readonly device: string;
  readonly rule: string;
}

const QUEUED = /^(\S+): (\S+:\d+) RUN(?: '(.*)'|\+="(.*)": Set command: .*)$/;

export function queuedRuns(window: JournalWindow): QueuedRun[] {
  return window.udevdHelperLines.flatMap((line) => {
    const queued = QUEUED.exec(line.message);
    return queued !== null && (queued[3] ?? queued[4]) === HELPER_COMMAND
      ? [{ device: queued[1] as string, rule: queued[2] as string }]
      : [];
  });
}

const RUNNING = /^(\S+): Running command "(.*)"$/;
const SPAWNED = /^Successfully forked off '\(spawn\)' as PID (\d+)/;
const SUCCEEDED = /^(\S+): Process '(.*)' succeeded\.$/;
const FAILED = /^(\S+): Process '(.*)' failed with exit code (\d+)\.$/;

export function helperRuns(window: JournalWindow): HelperRun[] {
  const runs: { device: string; workerPid: number | null; helperPid: number | null; exitCode: number | null }[] = [];
  // A worker handles one event at a time, so its lines about one RUN come in order.
  const open = new Map<number | null, (typeof runs)[number]>();
  for (const line of window.udevdHelperLines) {
    const running = RUNNING.exec(line.message);
    if (running !== null && running[2] === HELPER_COMMAND) {
      const run = { device: running[1] as string, workerPid: line.pid, helperPid: null, exitCode: null };
      runs.push(run);
      open.set(line.pid, run);
      continue;
    }
    const spawned = SPAWNED.exec(line.message);
    const current = open.get(line.pid);
    if (spawned !== null) {
      if (current !== undefined && current.helperPid === null) current.helperPid = Number(spawned[1]);
      continue;
    }
    const ended = SUCCEEDED.exec(line.message) ?? FAILED.exec(line.message);
    if (ended !== null && ended[2] === HELPER_COMMAND && current !== undefined && current.device === ended[1]) {
      current.exitCode = ended[3] === undefined ? 0 : Number(ended[3]);
      open.delete(line.pid);
    }
  }
  return runs;
}

const PCI_ADDRESS = /\b[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\b/g;

/** Every PCI address a line names. */
export const addressesIn = (message: string): string[] => [...new Set(message.match(PCI_ADDRESS) ?? [])];

/** The device a tool line is about: the helper starts every line with it. */
export const subjectOf = (entry: ToolJournalEntry): string | null => /^(\S+): /.exec(entry.message)?.[1] ?? null;

/** How many times each key occurs. */
export function countBy<T>(items: readonly T[], key: (item: T) => string | null): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== null) counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** `{ device: 1 }` for each device: what one event per device must produce. */
export const oncePerDevice = (devices: readonly string[]): Record<string, number> =>
  Object.fromEntries(devices.map((d) => [d, 1]));
