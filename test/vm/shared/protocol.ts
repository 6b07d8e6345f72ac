/**
 * What the guest tells the host, one JSON object per line on the guest's second serial
 * port (ttyS1, a file on the host). The console (ttyS0) carries the kernel's and systemd's
 * messages for humans; this port carries nothing but these lines, so the host parses them
 * and never has to read the console.
 */

/** Marks a protocol line, so that stray output on the port can never be taken for one. */
export const LINE_PREFIX = "VMTEST ";

/** The kernel command-line flag the guest runner insists on before it writes to any /sys. */
export const GUEST_FLAG = "vfio_autobind_vmtest=1";

/**
 * The main boot runs only the scenarios named here (comma-separated, on the kernel command
 * line), in the list's usual order; every scenario when it is absent. The smoke suite's
 * subset (shared/smoke.ts) is passed this way.
 */
export const SCENARIOS_PARAMETER = "vfio_autobind_vmtest.scenarios";

export interface DeviceState {
  readonly address: string;
  /** `vendor:device`, lower-case hex. */
  readonly id: string;
  readonly driver: string | null;
  /** `driver_override`, `null` when unset. */
  readonly override: string | null;
  readonly iommuGroup: string | null;
  /** The `vfio-dev/` directory exists: a vfio-family driver holds the device. */
  readonly vfioDev: boolean;
}

/** One journal entry of the tool (`journalctl -t vfio-autobind -o json`), with the fields the tests read. */
export interface ToolJournalEntry {
  readonly cursor: string;
  readonly message: string;
  readonly identifier: string | null;
  readonly priority: number | null;
  /** `_TRANSPORT`: `kernel` for the helper's lines (written to /dev/kmsg), `stdout` for its fallback stream. */
  readonly transport: string | null;
  /**
   * The process that wrote it: `_PID` where journald reads it from the peer (a socket), else
   * `SYSLOG_PID`, which the helper's kernel-log records carry in their text. A kernel-log
   * record has no peer, so no `_CMDLINE`.
   */
  readonly pid: number | null;
  readonly cmdline: string | null;
}

/**
 * A line of udevd's own (debug) log about the helper: where a rule queued it, each RUN of it,
 * how that ended, and the PID a worker forked for a RUN program (udevEvidence.ts reads them).
 */
export interface UdevdHelperLine {
  readonly cursor: string;
  readonly message: string;
  /** `_PID`: the udevd worker that handled the event. */
  readonly pid: number | null;
}

/** What the journal gained between two moments (or since boot). */
export interface JournalWindow {
  readonly tool: readonly ToolJournalEntry[];
  readonly udevdHelperLines: readonly UdevdHelperLine[];
  /** Cursor of the newest entry at the end of the window: where the next one starts. */
  readonly endCursor: string | null;
}

/** What the guest looked like at one moment: every PCI device and the tool's journal lines. */
export interface GuestSnapshot {
  readonly uptimeSeconds: number;
  readonly devices: readonly DeviceState[];
  /** MESSAGE of every journal entry with SYSLOG_IDENTIFIER=vfio-autobind, oldest first. */
  readonly journal: readonly string[];
  /** The journal since boot: the tool's entries and udevd's lines about starting the helper. */
  readonly sinceBoot: JournalWindow;
  /** journald's "Suppressed N messages" notices since boot: there must be none, or counts lie. */
  readonly journaldSuppressed: readonly string[];
}

/**
 * A device the guest wants plugged in. The host passes `device` to QMP `device_add`
 * unchanged, so a new hotplug scenario needs no host change.
 */
export interface HotplugRequest {
  readonly type: "hotplug-request";
  readonly requestId: string;
  readonly device: Readonly<Record<string, string>>;
}

export interface ScenarioMessage {
  readonly type: "scenario";
  readonly name: string;
  /** False when the scenario itself threw (a harness problem); assertions are the host's. */
  readonly completed: boolean;
  readonly error: string | null;
  readonly seconds: number;
  /** The scenario's observations, shaped by the scenario (see guest/scenarios/). */
  readonly result: unknown;
  /** Every command the scenario ran and what it printed, for failure messages. */
  readonly log: readonly string[];
}

export type GuestMessage =
  | { readonly type: "hello"; readonly kernel: string; readonly node: string; readonly uptimeSeconds: number }
  | { readonly type: "snapshot"; readonly label: string; readonly snapshot: GuestSnapshot }
  | HotplugRequest
  | ScenarioMessage
  | { readonly type: "done"; readonly seconds: number };

export function formatMessage(message: GuestMessage): string {
  return `${LINE_PREFIX}${JSON.stringify(message)}\n`;
}

/** The protocol lines in `text`; anything else (noise, a half-written last line) is skipped. */
export function parseMessages(text: string): GuestMessage[] {
  const messages: GuestMessage[] = [];
  for (const raw of text.split("\n")) {
    // The tty turns "\n" into "\r\n".
    const line = raw.replace(/\r$/, "");
    if (!line.startsWith(LINE_PREFIX)) continue;
    try {
      messages.push(JSON.parse(line.slice(LINE_PREFIX.length)) as GuestMessage);
    } catch {
      // A line cut short when the guest died; the missing "done" reports that.
    }
  }
  return messages;
}
