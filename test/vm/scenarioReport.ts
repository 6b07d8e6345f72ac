/**
 * What the test files use to reach the guest's report: the report itself (null under
 * `npm test`, which skips the VM suites), each scenario's observations, and a failure
 * hook that prints what the guest did and the end of its console.
 */
import * as fs from "node:fs";
import { beforeEach, describe, inject } from "vitest";
import { consoleTail, readReport, type VmReport } from "./host/vmReport.js";

function loadReport(): VmReport | null {
  const file = inject("vmReportPath");
  return typeof file === "string" && fs.existsSync(file) ? readReport(file) : null;
}

export const vmReport: VmReport | null = loadReport();

/** `describe` when the guest has run, `describe.skip` under `npm test`. */
export const describeVm = vmReport === null ? describe.skip : describe;

/**
 * One scenario's observations. Registers the failure hook for the calling describe block,
 * so call it at describe level.
 */
export function scenarioResult<Result>(name: string): Result {
  // Under `npm test` every test of a describeVm block is skipped and reads nothing.
  if (vmReport === null) return null as Result;
  const report = vmReport;
  const scenario = report.scenarios[name];
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(
        [
          `--- what scenario ${name} did in the guest ---`,
          ...(scenario?.log ?? ["(the scenario sent nothing)"]),
          `--- last lines of the guest console (${report.consoleLog}) ---`,
          consoleTail(report.consoleLog, 40),
        ].join("\n"),
      );
    });
  });
  if (scenario === undefined) throw new Error(`the guest sent no result for scenario ${name}`);
  if (!scenario.completed)
    throw new Error(`scenario ${name} threw in the guest: ${scenario.error}\n${scenario.log.join("\n")}`);
  return scenario.result as Result;
}
