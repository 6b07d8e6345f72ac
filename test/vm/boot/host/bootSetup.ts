/**
 * `npm run test:boot`: builds the two boot roots (cached), makes this run's disk images
 * (the tool, the claims and the initramfs made in a chroot without /sys), boots them one
 * after another with each scenario's plan and command line, and writes report.json, whose
 * path the test files get through inject("bootReportPath"). Every phase prints its wall time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { phase, phaseTimes, say } from "../../host/command.js";
import { buildFixtureModules } from "../../host/fixtureModules.js";
import { guestKernel } from "../../host/kernelPackages.js";
import { newestDistDeb } from "../../host/installTool.js";
import { CACHE_DIR, RELEASE } from "../../host/paths.js";
import { checkHostRequirements } from "../../host/requirements.js";
import { HOLD_SWITCH } from "../../../../src/policy/hold.js";
import {
  BREAK_STATE,
  devices,
  fixtures,
  HOST_MODULES,
  IMAGES,
  type ImageName,
  type RootFlavour,
} from "../shared/bootMachine.js";
import type { BootPlan } from "../shared/bootProtocol.js";
import { buildBootImage, dumpFromImage, type BootImage } from "./bootImage.js";
import { bootImage } from "./bootQemu.js";
import { bootRecord, countHostBinds, readBootReport, writeBootReport, type BootRecord } from "./bootReport.js";
import { COMPARISON_BOOTS, comparisonFigures } from "./comparisonFigures.js";
import { buildBootRoot, type BootRoot } from "./bootRoot.js";

/** A boot takes about a minute under TCG, "stale" longer (update-initramfs); this is only the backstop. */
const BOOT_TIMEOUT_MS = 10 * 60_000;
const RUNS_KEPT = 3;

/** The hold switch off: the gap boots. */
export const HOLD_OFF = `${HOLD_SWITCH}=0`;
/** Every fixture variant's probe fails: the fail-open boot. */
export const FAIL_PROBE = [`${fixtures.subsys.module}.fail_probe=1`, `${fixtures.device.module}.fail_probe=1`];

interface PlannedBoot {
  readonly name: string;
  readonly image: ImageName;
  readonly plan: BootPlan;
  readonly cmdline: readonly string[];
  /** Boot the initramfs the image had before its package was removed. */
  readonly initrdBeforeRemoval?: boolean;
}

/**
 * In order, on one disk per image: the disk keeps what each boot changed. The claims of
 * the initramfs-tools image change in "stale" (the guest claims netLate and refreshes the
 * initramfs), so "refreshed" boots the new initramfs read back out of the image. The two
 * comparison boots come last, ours first.
 */
export const PLANNED_BOOTS: readonly PlannedBoot[] = [
  { name: "holds-1", image: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "holds-2", image: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "holds-3", image: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "gap", image: "initramfs-tools", plan: "observe", cmdline: [HOLD_OFF] },
  { name: "fail-open", image: "initramfs-tools", plan: "release-held", cmdline: FAIL_PROBE },
  { name: "stale", image: "initramfs-tools", plan: "change-claims", cmdline: [] },
  { name: "refreshed", image: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "hazards", image: "hazards", plan: "observe", cmdline: [] },
  {
    name: "helper-fails",
    image: "hazards",
    plan: "observe",
    cmdline: [BREAK_STATE, `${fixtures.subsys.module}.fail_probe=1`],
  },
  { name: "removed", image: "removed", plan: "observe", cmdline: [] },
  { name: "removed-old-initramfs", image: "removed", plan: "observe", cmdline: [], initrdBeforeRemoval: true },
  { name: "dracut", image: "dracut", plan: "observe", cmdline: [] },
  { name: "dracut-gap", image: "dracut", plan: "observe", cmdline: [HOLD_OFF] },
  { name: COMPARISON_BOOTS.ours, image: "compare-ours", plan: "observe", cmdline: [] },
  { name: COMPARISON_BOOTS.driverctl, image: "compare-driverctl", plan: "observe", cmdline: [] },
];

/** The smoke suite's boots (`npm run test:smoke`): one two-stage boot with holds per generator. */
export const SMOKE_BOOTS: readonly string[] = ["holds-1", "dracut"];

export default async function setup(project: TestProject): Promise<void> {
  await runBootSuite(project, selectedBoots());
}

/** Builds what `planned` boots need, boots them in order and writes the report. */
export async function runBootSuite(project: TestProject, planned: readonly PlannedBoot[]): Promise<void> {
  // Re-reading a finished run's report: the assertions change, the guests need not boot again.
  const previous = process.env.VFIO_AUTOBIND_BOOT_REPORT;
  if (previous !== undefined && previous !== "") {
    say(`reading ${previous}; nothing is built or booted`);
    project.provide("bootReportPath", rereadBootReport(previous));
    return;
  }
  const started = Date.now();
  await phase("host requirements", () =>
    checkHostRequirements([
      ["mkfs.ext4", "e2fsprogs"],
      ["debugfs", "e2fsprogs"],
    ]),
  );
  const deb = currentDeb();
  const kernel = await guestKernel();
  const release = kernel.release;
  const builtInHostModules = builtInHostModulesOf(kernel.modulesDir);
  say(`host modules built into ${release}: ${builtInHostModules.join(", ") || "none"}`);
  const fixtureModules = await phase("fixture modules", () => buildFixtureModules(kernel));
  const runDir = newRunDir();
  const roots = new Map<RootFlavour, BootRoot>();
  const images = new Map<ImageName, BootImage>();
  for (const name of new Set(planned.map((boot) => boot.image))) {
    const flavour = IMAGES[name].flavour;
    const root =
      roots.get(flavour) ?? (await phase(`boot root ${flavour}`, () => buildBootRoot(flavour, kernel, fixtureModules)));
    roots.set(flavour, root);
    images.set(name, await phase(`boot image ${name}`, () => buildBootImage(name, root, release, deb, runDir)));
  }

  const boots: BootRecord[] = [];
  const claimedNow = new Map<ImageName, string[]>([...images.keys()].map((name) => [name, [...IMAGES[name].claimed]]));
  for (const boot of planned) {
    const image = images.get(boot.image) as BootImage;
    const outcome = await phase(`boot ${boot.name}`, () =>
      bootImage(
        {
          ...boot,
          disk: image.disk,
          kernel: image.kernel,
          initrd: boot.initrdBeforeRemoval === true ? initrdBeforeRemoval(image) : image.initrd,
          layout: IMAGES[boot.image].layout,
        },
        runDir,
        BOOT_TIMEOUT_MS,
      ),
    );
    const record = bootRecord(outcome, boot.image, claimedNow.get(boot.image) ?? []);
    boots.push(record);
    say(
      `boot ${boot.name}: ${outcome.observation === null ? "NO OBSERVATION" : "observed"}, ` +
        `${record.kernelBinds.length} binds, ${record.hostBindsOfClaimed.length} host binds of claimed devices`,
    );
    if (boot.plan === "change-claims") {
      claimedNow.get(boot.image)?.push(devices.netLate.address);
      // The guest's update-initramfs wrote a new one into the image's /boot.
      await dumpFromImage(image.disk, `/boot/initrd.img-${release}`, image.initrd);
    }
  }

  const wallSeconds = (Date.now() - started) / 1000;
  say(`total ${wallSeconds.toFixed(1)} s; logs in ${runDir}`);
  const reportPath = path.join(runDir, "report.json");
  writeBootReport(reportPath, {
    release: RELEASE.name,
    kernelRelease: release,
    plannedBoots: planned.map((boot) => boot.name),
    builtInHostModules,
    phases: phaseTimes,
    wallSeconds,
    images: [...images.values()],
    boots,
    counts: countHostBinds(boots),
    comparison: comparisonFigures(boots),
  });
  project.provide("bootReportPath", reportPath);
}

/**
 * The machines' host modules the kernel has built in: those it has no loadable module for.
 * Read from the module tree, not modules.builtin, which testing's split kernel packages do
 * not ship.
 */
function builtInHostModulesOf(modulesDir: string): string[] {
  const loadable = new Set(
    fs
      .readdirSync(path.join(modulesDir, "kernel"), { recursive: true, encoding: "utf8" })
      .map((file) => /^(.+)\.ko(?:\.(?:xz|zst|gz))?$/.exec(path.basename(file))?.[1]?.replace(/-/g, "_"))
      .filter((name) => name !== undefined),
  );
  return HOST_MODULES.filter((name) => !loadable.has(name));
}

/**
 * A finished run's report with every boot's binds read again from its kernel log, so that
 * a change to the log's parser is judged on the same boots. Written beside the original.
 */
function rereadBootReport(file: string): string {
  const report = readBootReport(file);
  const boots = report.boots.map((boot) => bootRecord(boot, boot.image, boot.claimed));
  const reread = path.join(path.dirname(file), "report-reread.json");
  writeBootReport(reread, { ...report, boots, counts: countHostBinds(boots), comparison: comparisonFigures(boots) });
  return reread;
}

function initrdBeforeRemoval(image: BootImage): string {
  if (image.initrdBeforeRemoval === null) throw new Error(`image ${image.name} removes no package`);
  return image.initrdBeforeRemoval;
}

/** The planned boots of these names, in the plan's order. */
export const bootsNamed = (names: readonly string[]): readonly PlannedBoot[] =>
  PLANNED_BOOTS.filter((boot) => names.includes(boot.name));

/**
 * VFIO_AUTOBIND_BOOT_ONLY=holds-1,dracut boots only those (when debugging the harness);
 * the tests of the boots left out are skipped.
 */
function selectedBoots(): readonly PlannedBoot[] {
  const only = process.env.VFIO_AUTOBIND_BOOT_ONLY;
  if (only === undefined || only === "") return PLANNED_BOOTS;
  return bootsNamed(only.split(","));
}

/** The .deb `npm run package` just built: the guest gets the tool the way an admin does. */
function currentDeb(): string {
  const newest = newestDistDeb();
  if (newest === null)
    throw new Error("dist/ holds no vfio-autobind_*_all.deb: run npm run package (npm run test:boot does)");
  return newest;
}

function newRunDir(): string {
  const runs = path.join(CACHE_DIR, "boot-runs");
  fs.mkdirSync(runs, { recursive: true });
  const previous = fs.readdirSync(runs).sort();
  for (const old of previous.slice(0, -RUNS_KEPT)) fs.rmSync(path.join(runs, old), { recursive: true, force: true });
  // The last run's disks stay until the next run, to look into (debugfs); older ones go.
  for (const old of previous.slice(-RUNS_KEPT)) {
    const dir = path.join(runs, old);
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".img")))
      fs.rmSync(path.join(dir, file), { force: true });
  }
  const dir = path.join(runs, new Date().toISOString().replace(/[:.]/g, "-"));
  fs.mkdirSync(dir);
  return dir;
}
