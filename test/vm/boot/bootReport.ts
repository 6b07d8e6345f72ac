/**
 * What the test files use to reach the boot suite's report: the report (null under a
 * config without the boot suite's setup), each boot's record, and a failure hook that
 * prints the end of that boot's console.
 */
import * as fs from "node:fs";
import { beforeEach, describe, inject } from "vitest";
import { consoleTail } from "../host/vmReport.js";
import { readBootReport, type BootRecord, type BootSuiteReport } from "./host/bootReport.js";

function loadReport(): BootSuiteReport | null {
  const file = inject("bootReportPath");
  return typeof file === "string" && fs.existsSync(file) ? readBootReport(file) : null;
}

export const bootReport: BootSuiteReport | null = loadReport();

/** `describe` when the boots have run, `describe.skip` otherwise. */
export const describeBoot = bootReport === null ? describe.skip : describe;

/**
 * One boot's record, as a getter the tests call: a boot that did not run or sent nothing
 * fails each test that reads it, with the console's end, and leaves the other boots' tests
 * alone. Registers the failure hook for the calling describe block, so call it at describe
 * level.
 */
export function bootResult(name: string): () => BootRecord {
  const boot = bootReport?.boots.find((b) => b.name === name);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(
        [
          `--- boot ${name}: what the guest ran ---`,
          ...(boot?.observation?.actions ?? []).map(
            (a) => `$ ${a.argv.join(" ")} -> ${a.exitCode}\n${a.stdout}${a.stderr}`,
          ),
          `--- the tool's journal ---`,
          ...(boot?.observation?.toolJournal ?? []).map((l) => `${l.transport ?? "?"}: ${l.message}`),
          `--- last lines of the console (${boot?.consoleLog ?? "?"}) ---`,
          boot === undefined ? "" : consoleTail(boot.consoleLog, 40),
        ].join("\n"),
      );
    });
  });
  return () => {
    if (boot === undefined) throw new Error(`boot ${name} did not run`);
    if (boot.observation === null)
      throw new Error(
        `boot ${name} sent no observation (QEMU ${boot.timedOut ? "timed out" : `exited ${boot.qemuExitCode}`})\n${consoleTail(boot.consoleLog, 60)}`,
      );
    return boot;
  };
}
