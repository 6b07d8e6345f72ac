/**
 * What the test files use to reach the boot suite's report: the report (null under a
 * config without the boot suite's setup), each boot's record, and a failure hook that
 * prints the end of that boot's console.
 */
import * as fs from "node:fs";
import { beforeEach, describe, expect, inject } from "vitest";
import { consoleTail } from "../host/vmReport.js";
import { readBootReport, type BootRecord, type BootSuiteReport } from "./host/bootReport.js";
import type { BootDevice } from "./shared/bootMachine.js";
import { toolLines } from "./shared/bootProtocol.js";

function loadReport(): BootSuiteReport | null {
  const file = inject("bootReportPath");
  return typeof file === "string" && fs.existsSync(file) ? readBootReport(file) : null;
}

export const bootReport: BootSuiteReport | null = loadReport();

/** `describe` when the boots have run, `describe.skip` otherwise. */
export const describeBoot = bootReport === null ? describe.skip : describe;

/**
 * Whether the kernel has the device's host driver built in: it then binds the device
 * before any hold exists, and the helper takes the device from it after boot.
 */
export const hostDriverBuiltIn = (device: BootDevice): boolean =>
  bootReport?.builtInHostModules.includes(device.hostModule) === true;

/**
 * `describe` for the tests of one boot when this run planned it (`npm run test:smoke`
 * plans two), `describe.skip` otherwise. A planned boot that sent nothing still fails.
 */
export const describeBootOf = (name: string) =>
  bootReport?.plannedBoots.includes(name) === true ? describe : describe.skip;

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

/**
 * A claimed device whose host driver is built in: bound by it during device_add(), before
 * any userspace could hold it (so the hold script leaves it alone), then taken by the
 * helper, which says so, to `vfioDriver`.
 */
export function expectTakenFromBuiltIn(boot: BootRecord, device: BootDevice, vfioDriver: string): void {
  expect(hostDriverBuiltIn(device), `${device.hostModule} is not built into this kernel`).toBe(true);
  expect(boot.kernelBinds.find((b) => b.address === device.address)?.driver).toBe(device.hostDriver);
  expect(boot.hostBindsOfClaimed.filter((b) => b.address === device.address)).toHaveLength(1);
  expect(boot.observation?.devices.find((d) => d.address === device.address)?.driver).toBe(vfioDriver);
  const lines = toolLines(boot.observation?.toolJournal ?? []).filter((l) => l.includes(device.address));
  expect(
    lines.some((l) => l.includes(`taken from ${device.hostDriver}`)),
    lines.join("\n"),
  ).toBe(true);
  const holds = (boot.observation?.kernelLog ?? []).filter((l) =>
    l.includes(`vfio-autobind: holding ${device.address}`),
  );
  expect(holds).toEqual([]);
}
