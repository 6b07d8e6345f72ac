/** What one run of the VM suite found, written by globalSetup and read by the test files. */
import * as fs from "node:fs";
import type { GuestSnapshot, ScenarioMessage } from "../shared/protocol.js";
import type { PhaseTime } from "./command.js";
import type { HotplugOutcome } from "./guestSession.js";
import type { InstallMethod } from "./installTool.js";
import type { BootFiles } from "./bootFiles.js";
import type { DriverctlFigures } from "./driverctlFigures.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Set by globalSetup.ts under test/vm/vitest.config.ts only. */
    vmReportPath: string;
  }
}

export interface VmReport {
  /** The Debian release of the guest (shared/releases.ts). */
  readonly release: string;
  readonly kernelRelease: string;
  readonly guestNode: string;
  readonly install: InstallMethod;
  /** The claims and generated rules put into the guest before boot. */
  readonly bootFiles: BootFiles;
  readonly phases: readonly PhaseTime[];
  /** By label: "boot" (after udev's coldplug settled) and "final" (after the last scenario). */
  readonly snapshots: Readonly<Record<string, GuestSnapshot>>;
  readonly scenarios: Readonly<Record<string, ScenarioMessage>>;
  readonly hotplugs: readonly HotplugOutcome[];
  readonly consoleLog: string;
  readonly resultsLog: string;
  /**
   * The driverctl comparison (host/driverctlBoots.ts): its scenarios are in `scenarios`
   * too; these are the bench keys computed from them (bench/vmResults.mjs reads them), and
   * the comparison boots' console logs. Null when the comparison boots did not run.
   */
  readonly driverctl: {
    readonly figures: DriverctlFigures;
    readonly consoleLogs: Readonly<Record<string, string>>;
  } | null;
}

export function writeReport(file: string, report: VmReport): void {
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

export function readReport(file: string): VmReport {
  return JSON.parse(fs.readFileSync(file, "utf8")) as VmReport;
}

/** The last lines of the guest console, without terminal colour codes, for failure messages. */
export function consoleTail(consoleLog: string, lines = 60): string {
  const text = fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, "utf8") : "(no console log)";
  // eslint-disable-next-line no-control-regex -- stripping the console's ANSI escapes is the point
  const plain = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "");
  return plain.split("\n").slice(-lines).join("\n");
}
