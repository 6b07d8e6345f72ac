/**
 * Builds the guest (cached where it can be), boots it once, lets it run every scenario
 * and writes what it reported to report.json, whose path the test files get through
 * inject("vmReportPath"). Every phase prints its wall time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { CACHE_DIR, RELEASE } from "./paths.js";
import { deviceQemuArgs } from "../shared/machineLayout.js";
import { phase, phaseTimes, say } from "./command.js";
import { checkHostRequirements } from "./requirements.js";
import { guestKernel } from "./kernelPackages.js";
import { buildFixtureModules } from "./fixtureModules.js";
import { buildGuestRoot } from "./guestRoot.js";
import { buildGuestOverlay, type GuestOverlay } from "./guestOverlay.js";
import { bootGuest, type GuestRun } from "./guestSession.js";
import { consoleTail, writeReport, type VmReport } from "./vmReport.js";
import { runCompareBoots, type CompareBootRun } from "./driverctlBoots.js";
import { driverctlFigures } from "./driverctlFigures.js";
import { SCENARIOS_PARAMETER, type GuestSnapshot, type ScenarioMessage } from "../shared/protocol.js";
import type { DriverctlBootResult, DriverctlCompareResult } from "../shared/driverctlCompare.js";

/**
 * Boot plus every scenario takes 9 to 11 minutes under TCG on 2 cores (more on a busy
 * machine); this is only the backstop for a guest that hangs.
 */
const GUEST_TIMEOUT_MS = 25 * 60_000;

/** Earlier runs' logs kept beside this one's (a run in progress is never among the oldest). */
const RUNS_KEPT = 5;

/**
 * Which boots run: "main" (every scenario) and "compare" (the two driverctl comparison
 * boots, host/driverctlBoots.ts), both by default. Leaving one out is for working on the
 * other: the test files of the boot left out then fail, saying their scenario sent nothing.
 * `=none` builds (and caches) the kernel, fixtures and guest root without booting.
 */
export const BOOTS: ReadonlySet<string> = new Set((process.env.VFIO_AUTOBIND_VM_BOOTS ?? "main,compare").split(","));

export default async function setup(project: TestProject): Promise<void> {
  await runVmSuite(project, { boots: BOOTS, scenarios: null });
}

export interface SuiteChoice {
  /** "main" and/or "compare". */
  readonly boots: ReadonlySet<string>;
  /** The main boot's scenarios (shared/protocol.ts SCENARIOS_PARAMETER); null for all. */
  readonly scenarios: readonly string[] | null;
}

/** The whole run: the smoke suite (smokeSetup.ts) chooses a part of it. */
export async function runVmSuite(project: TestProject, choice: SuiteChoice): Promise<void> {
  const started = Date.now();
  say(`release ${RELEASE.name} (${RELEASE.label})`);
  await phase("host requirements", checkHostRequirements);
  const kernel = await guestKernel();
  const release = kernel.release;
  const fixtures = await phase("fixture modules", () => buildFixtureModules(kernel));
  const root = await phase("guest root", () => buildGuestRoot(kernel, fixtures));

  const runDir = newRunDir();
  const overlay = await phase("guest overlay", () => buildGuestOverlay(root.dir, runDir));
  const initrd = path.join(runDir, "initrd.cpio");
  fs.copyFileSync(root.cpio, initrd);
  fs.appendFileSync(initrd, fs.readFileSync(overlay.cpio));

  const machine = {
    devices: deviceQemuArgs(),
    extraAppend: choice.scenarios === null ? [] : [`${SCENARIOS_PARAMETER}=${choice.scenarios.join(",")}`],
  };
  const guest = choice.boots.has("main")
    ? await phase("guest boot and scenarios", () =>
        bootOnceMoreAfterEarlyPanic(() =>
          bootGuest({ kernel: kernel.vmlinuz, initrd, runDir, timeoutMs: GUEST_TIMEOUT_MS, machine }),
        ),
      )
    : null;
  // The logs stay; the initramfs is only the cached base plus the overlay.
  fs.rmSync(initrd);
  const compare = choice.boots.has("compare")
    ? await runCompareBoots(kernel.vmlinuz, root.cpio, root.dir, runDir, GUEST_TIMEOUT_MS)
    : null;
  say(`total ${((Date.now() - started) / 1000).toFixed(1)} s; guest logs in ${runDir}`);

  const report = buildReport(guest, release, overlay, compare);
  const reportPath = path.join(runDir, "report.json");
  writeReport(reportPath, report);
  project.provide("vmReportPath", reportPath);
}

/**
 * TCG can crash a guest kernel while it patches its own text early in boot (qemu-notes.md:
 * "Oops: int3" on 6.12, once in two boots). That is the emulator, not the product: when
 * the guest panicked before its runner said hello, boot once more, and say so. The
 * panicked boot's console is kept beside the new one.
 */
async function bootOnceMoreAfterEarlyPanic(boot: () => Promise<GuestRun>): Promise<GuestRun> {
  const first = await boot();
  const panicked = /Kernel panic|Fatal exception/.test(fs.readFileSync(first.consoleLog, "utf8"));
  if (!panicked || first.messages.some((m) => m.type === "hello")) return first;
  const kept = first.consoleLog.replace(/\.log$/, "-panicked.log");
  fs.renameSync(first.consoleLog, kept);
  say(`the guest kernel panicked before the runner started (${kept}): booting once more`);
  return boot();
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
    release: RELEASE.name,
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
