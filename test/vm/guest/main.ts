/**
 * The guest's test runner, started by vfio-autobind-vmtest.service once the guest has
 * booted. It runs every scenario in order, sends each one's observations to the host, and
 * exits; the unit then powers the guest off. It judges nothing: the host asserts.
 */
import * as fs from "node:fs";
import { BOOT_PARAMETER } from "../shared/driverctlCompare.js";
import { GUEST_FLAG, SCENARIOS_PARAMETER, type HotplugRequest } from "../shared/protocol.js";
import { GuestLog, snapshot, udevSettle, uptimeSeconds } from "./guestSystem.js";
import { sendToHost } from "./hostChannel.js";
import { compareScenarios, scenarios } from "./scenarios/index.js";
import type { Scenario } from "./scenario.js";

async function main(): Promise<void> {
  // Scenarios write to /sys: refuse to run anywhere but the suite's own guest.
  const cmdline = fs.readFileSync("/proc/cmdline", "utf8").split(/\s+/);
  if (!cmdline.includes(GUEST_FLAG))
    throw new Error(`not the VM suite's guest (${GUEST_FLAG} is not on the kernel command line)`);

  // A comparison boot (shared/driverctlCompare.ts) names itself; the main boot does not.
  const boot = cmdline.find((word) => word.startsWith(`${BOOT_PARAMETER}=`))?.slice(BOOT_PARAMETER.length + 1);
  const toRun = boot === undefined ? mainScenarios(cmdline) : compareScenarios[boot];
  if (toRun === undefined) throw new Error(`unknown ${BOOT_PARAMETER}=${boot}`);

  const started = Date.now();
  const setup = new GuestLog();
  // Coldplug includes the helper's runs for the devices claimed at boot. A comparison boot
  // reads its boot from the kernel log first, and settles later.
  if (boot === undefined) udevSettle(setup);
  sendToHost({
    type: "hello",
    kernel: fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    node: process.version,
    uptimeSeconds: uptimeSeconds(),
  });
  // The snapshots are the main boot's; a comparison boot's journal holds nothing the tests read.
  if (boot === undefined) sendToHost({ type: "snapshot", label: "boot", snapshot: snapshot() });

  for (const scenario of toRun) {
    const log = new GuestLog();
    const scenarioStarted = Date.now();
    log.note(`scenario ${scenario.name}: start`);
    let result: unknown = null;
    let error: string | null = null;
    try {
      result = await scenario.run({
        log,
        requestHotplug(requestId, device) {
          const request: HotplugRequest = { type: "hotplug-request", requestId, device };
          log.note(`asking the host to hot-plug ${JSON.stringify(device)}`);
          sendToHost(request);
        },
      });
    } catch (caught) {
      error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
      log.note(`scenario ${scenario.name}: threw ${error}`);
    }
    const seconds = (Date.now() - scenarioStarted) / 1000;
    log.note(`scenario ${scenario.name}: end after ${seconds.toFixed(1)} s`);
    sendToHost({
      type: "scenario",
      name: scenario.name,
      completed: error === null,
      error,
      seconds,
      result,
      log: log.lines,
    });
  }

  if (boot === undefined) sendToHost({ type: "snapshot", label: "final", snapshot: snapshot() });
  sendToHost({ type: "done", seconds: (Date.now() - started) / 1000 });
}

/** Every scenario, or the subset the host named on the command line (SCENARIOS_PARAMETER). */
function mainScenarios(cmdline: readonly string[]): readonly Scenario[] {
  const named = cmdline.find((word) => word.startsWith(`${SCENARIOS_PARAMETER}=`));
  if (named === undefined) return scenarios;
  const names = named.slice(SCENARIOS_PARAMETER.length + 1).split(",");
  const unknown = names.filter((name) => !scenarios.some((scenario) => scenario.name === name));
  if (unknown.length > 0) throw new Error(`${SCENARIOS_PARAMETER}: no scenario named ${unknown.join(", ")}`);
  return scenarios.filter((scenario) => names.includes(scenario.name));
}

main().catch((error: unknown) => {
  process.stderr.write(`vmtest runner failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
