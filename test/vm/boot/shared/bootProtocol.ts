/**
 * What a boot suite guest reports: one JSON line on its second serial port (ttyS1), read
 * by the host after QEMU has exited. The plan (what the guest does besides observing) comes
 * from the kernel command line, so one disk image serves every boot.
 */
import type { DeviceState } from "../../shared/protocol.js";

export const BOOT_LINE_PREFIX = "VMBOOT ";

/** `vmboot.plan=<plan>` on the kernel command line. */
export const PLAN_PARAMETER = "vmboot.plan";

export type BootPlan =
  /** Wait for udev and the helper, then report. */
  | "observe"
  /** Observe, then hold a device by hand and `release` it (scenario e). */
  | "release-held"
  /** Observe, claim one more device, `status`, `update-initramfs -u`, `status` (scenario d). */
  | "change-claims";

/** A command the guest ran and what it printed. */
export interface GuestCommand {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface JournalLine {
  readonly message: string;
  /** `_TRANSPORT`: `kernel` for lines written to /dev/kmsg. */
  readonly transport: string | null;
  /**
   * `SYSLOG_PID`: the udev helper's lines to /dev/kmsg carry one (`vfio-autobind[PID]: `,
   * src/journal/kernelLog.ts); the hold script's (`<5>vfio-autobind: `) do not.
   */
  readonly syslogPid: string | null;
}

/**
 * The lines the tool itself wrote: the helper's and the CLI's, whether through the kernel
 * log or a stream, but not the hold script's kernel-log lines.
 */
export const toolLines = (journal: readonly JournalLine[]): string[] =>
  journal.filter((line) => line.transport !== "kernel" || line.syslogPid !== null).map((line) => line.message);

export interface BootObservation {
  readonly plan: BootPlan;
  readonly cmdline: string;
  readonly kernelRelease: string;
  /** Seconds since the kernel started, when the runner began and when udev had settled. */
  readonly runnerStartedAt: number;
  readonly settledAt: number;
  /** Every PCI device once udev and the helper are done. */
  readonly devices: readonly DeviceState[];
  /** The kernel's log since the first moment (`dmesg`, the ring buffer is 16 MB). */
  readonly kernelLog: readonly string[];
  /**
   * Every journal entry of this boot with SYSLOG_IDENTIFIER=vfio-autobind: the helper's
   * (transport kernel, with a SYSLOG_PID; stdout when it fell back to journald's socket),
   * the CLI's (transport stdout/journal/syslog) and the hold script's lines to /dev/kmsg
   * (transport kernel, no SYSLOG_PID).
   */
  readonly toolJournal: readonly JournalLine[];
  /** `vfio-autobind status` and `status --json` after the boot. */
  readonly status: GuestCommand;
  readonly statusJson: GuestCommand;
  /** What the plan did, in order. */
  readonly actions: readonly GuestCommand[];
  /** Device states after the plan's actions (empty for "observe"). */
  readonly devicesAfter: readonly DeviceState[];
}

export function formatBootLine(observation: BootObservation): string {
  return `${BOOT_LINE_PREFIX}${JSON.stringify(observation)}\n`;
}

/** The observation in a results file, or null when the guest sent none (a cut-short boot). */
export function parseBootLine(text: string): BootObservation | null {
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (!line.startsWith(BOOT_LINE_PREFIX)) continue;
    try {
      return JSON.parse(line.slice(BOOT_LINE_PREFIX.length)) as BootObservation;
    } catch {
      return null;
    }
  }
  return null;
}
