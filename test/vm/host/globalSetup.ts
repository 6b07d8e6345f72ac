/**
 * Builds the guest (cached where it can be), boots it once, lets it run every scenario
 * and writes what it reported to report.json, whose path the test files get through
 * inject("vmReportPath"). Every phase prints its wall time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { CACHE_DIR } from "./paths.js";
import { phase, phaseTimes, say } from "./command.js";
import { checkHostRequirements } from "./requirements.js";
import { kernelTree, resolveKernelRelease } from "./kernelPackages.js";
import { buildFixtureModules } from "./fixtureModules.js";
import { buildGuestRoot } from "./guestRoot.js";
import { buildGuestOverlay, type GuestOverlay } from "./guestOverlay.js";
import { bootGuest, type GuestRun } from "./guestSession.js";
import { consoleTail, writeReport, type VmReport } from "./vmReport.js";
import { runCompareBoots, type CompareBootRun } from "./driverctlBoots.js";
import { driverctlFigures } from "./driverctlFigures.js";
import type { GuestSnapshot, ScenarioMessage } from "../shared/protocol.js";
import type { DriverctlBootResult, DriverctlCompareResult } from "../shared/driverctlCompare.js";

/** Boot plus every scenario takes about three minutes under TCG; this is only the backstop. */
const GUEST_TIMEOUT_MS = 10 * 60_000;

/** Earlier runs' logs kept beside this one's (a run in progress is never among the oldest). */
const RUNS_KEPT = 5;

/**
 * Which boots run: "main" (every scenario) and "compare" (the two driverctl comparison
 * boots, host/driverctlBoots.ts), both by default. Leaving one out is for working on the
 * other: the test files of the boot left out then fail, saying their scenario sent nothing.
 */
const BOOTS = new Set((process.env.VFIO_AUTOBIND_VM_BOOTS ?? "main,compare").split(","));

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  await phase("host requirements", checkHostRequirements);
  const release = await phase("kernel release", resolveKernelRelease);
  const kernel = await phase("kernel packages", () => kernelTree(release));
  const fixtures = await phase("fixture modules", () => buildFixtureModules(kernel));
  const root = await phase("guest root", () => buildGuestRoot(kernel, fixtures));

  const runDir = newRunDir();
  const overlay = await phase("guest overlay", () => buildGuestOverlay(root.dir, runDir));
  const initrd = path.join(runDir, "initrd.cpio");
  fs.copyFileSync(root.cpio, initrd);
  fs.appendFileSync(initrd, fs.readFileSync(overlay.cpio));

  const guest = BOOTS.has("main")
    ? await phase("guest boot and scenarios", () =>
        bootGuest({ kernel: kernel.vmlinuz, initrd, runDir, timeoutMs: GUEST_TIMEOUT_MS }),
      )
    : null;
  // The logs stay; the initramfs is only the cached base plus the overlay.
  fs.rmSync(initrd);
  const compare = BOOTS.has("compare")
    ? await runCompareBoots(kernel.vmlinuz, root.cpio, root.dir, runDir, GUEST_TIMEOUT_MS)
    : null;
  say(`total ${((Date.now() - started) / 1000).toFixed(1)} s; guest logs in ${runDir}`);

  const report = buildReport(guest, release, overlay, compare);
  const reportPath = path.join(runDir, "report.json");
  writeReport(reportPath, report);
  project.provide("vmReportPath", reportPath);
}

function newRunDir(): string {
  const runs = path.join(CACHE_DIR, "runs");
  fs.mkdirSync(runs, { recursive: true });
  // ISO time stamps sort by age.
  for (const old of fs.readdirSync(runs).sort().slice(0, -RUNS_KEPT))
    fs.rmSync(path.join(runs, old), { recursive: true, force: true });
  const dir = path.join(runs, new Date().toISOString().replace(/[:.]/g, "-"));
  fs.mkdirSync(dir);
  return dir;
}

function buildReport(
  guest: GuestRun | null,
  kernelRelease: string,
  overlay: GuestOverlay,
  compare: readonly CompareBootRun[] | null,
): VmReport {
  const done = guest === null || guest.messages.some((m) => m.type === "done");
  if (guest !== null && !done) {
    throw new Error(
      [
        `the guest did not finish its scenarios (QEMU ${guest.timedOut ? "timed out" : `exited with ${guest.qemuExitCode}`})`,
        `--- last lines of the guest console (${guest.consoleLog}) ---`,
        consoleTail(guest.consoleLog, 80),
        "--- QEMU output ---",
        guest.qemuOutput.split("\n").slice(-20).join("\n"),
      ].join("\n"),
    );
  }
  const snapshots: Record<string, GuestSnapshot> = {};
  const scenarios: Record<string, ScenarioMessage> = {};
  let guestNode = "";
  for (const message of guest?.messages ?? []) {
    if (message.type === "snapshot") snapshots[message.label] = message.snapshot;
    if (message.type === "scenario") scenarios[message.name] = message;
    if (message.type === "hello") guestNode = message.node;
  }
  return {
    kernelRelease,
    // The comparison boots run the same guest root, so the same Node.
    guestNode: guestNode !== "" ? guestNode : (compare?.[0]?.node ?? ""),
    install: overlay.install,
    bootFiles: overlay.bootFiles,
    phases: phaseTimes,
    snapshots,
    scenarios,
    hotplugs: guest?.hotplugs ?? [],
    consoleLog: guest?.consoleLog ?? "",
    resultsLog: guest?.resultsLog ?? "",
    driverctl: compare === null ? null : compareReport(compare, scenarios),
  };
}

/** The comparison boots' scenarios join the others (their names differ); the figures come from them. */
function compareReport(
  compare: readonly CompareBootRun[],
  scenarios: Record<string, ScenarioMessage>,
): VmReport["driverctl"] {
  for (const run of compare) Object.assign(scenarios, run.scenarios);
  const consoleLogs = Object.fromEntries(compare.map((run) => [run.boot, run.guest.consoleLog]));
  const compared = scenarios["driverctl-compare"];
  const driverctlBoot = scenarios["driverctl-boot"];
  if (compared?.completed !== true || driverctlBoot?.completed !== true) {
    say("a comparison scenario threw in the guest: no driverctl figures (its test says why)");
    return null;
  }
  const figures = driverctlFigures(
    compared.result as DriverctlCompareResult,
    driverctlBoot.result as DriverctlBootResult,
  );
  say(`driverctl comparison: ${JSON.stringify(figures)}`);
  return { figures, consoleLogs };
}
