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
import { kernelTree, resolveKernelRelease } from "../../host/kernelPackages.js";
import { CACHE_DIR, REPO_ROOT } from "../../host/paths.js";
import { checkHostRequirements } from "../../host/requirements.js";
import { HOLD_SWITCH } from "../../../../src/policy/hold.js";
import { claimedAt, devices, fixtures, type RootFlavour } from "../shared/bootMachine.js";
import type { BootPlan } from "../shared/bootProtocol.js";
import { buildBootImage, dumpFromImage, type BootImage } from "./bootImage.js";
import { bootImage } from "./bootQemu.js";
import { bootRecord, countHostBinds, writeBootReport, type BootRecord } from "./bootReport.js";
import { buildBootRoot } from "./bootRoot.js";

/** A boot takes about a minute under TCG, "stale" longer (update-initramfs); this is only the backstop. */
const BOOT_TIMEOUT_MS = 10 * 60_000;
const RUNS_KEPT = 3;

/** The hold switch off: the gap boots. */
export const HOLD_OFF = `${HOLD_SWITCH}=0`;
/** Every fixture variant's probe fails: the fail-open boot. */
export const FAIL_PROBE = [`${fixtures.subsys.module}.fail_probe=1`, `${fixtures.device.module}.fail_probe=1`];

interface PlannedBoot {
  readonly name: string;
  readonly flavour: RootFlavour;
  readonly plan: BootPlan;
  readonly cmdline: readonly string[];
}

/**
 * In order, on one disk per root: the disk keeps what each boot changed. The claims of
 * the initramfs-tools root change in "stale" (the guest claims netLate and refreshes the
 * initramfs), so "refreshed" boots the new initramfs read back out of the image.
 */
export const PLANNED_BOOTS: readonly PlannedBoot[] = [
  { name: "holds-1", flavour: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "holds-2", flavour: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "holds-3", flavour: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "gap", flavour: "initramfs-tools", plan: "observe", cmdline: [HOLD_OFF] },
  { name: "fail-open", flavour: "initramfs-tools", plan: "release-held", cmdline: FAIL_PROBE },
  { name: "stale", flavour: "initramfs-tools", plan: "change-claims", cmdline: [] },
  { name: "refreshed", flavour: "initramfs-tools", plan: "observe", cmdline: [] },
  { name: "dracut", flavour: "dracut", plan: "observe", cmdline: [] },
  { name: "dracut-gap", flavour: "dracut", plan: "observe", cmdline: [HOLD_OFF] },
];

export default async function setup(project: TestProject): Promise<void> {
  // Re-reading a finished run's report: the assertions change, the guests need not boot again.
  const previous = process.env.VFIO_AUTOBIND_BOOT_REPORT;
  if (previous !== undefined && previous !== "") {
    say(`reading ${previous}; nothing is built or booted`);
    project.provide("bootReportPath", previous);
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
  const release = await phase("kernel release", resolveKernelRelease);
  const kernel = await phase("kernel packages", () => kernelTree(release));
  const fixtureModules = await phase("fixture modules", () => buildFixtureModules(kernel));
  const runDir = newRunDir();
  const images = new Map<RootFlavour, BootImage>();
  for (const flavour of ["initramfs-tools", "dracut"] as const) {
    const root = await phase(`boot root ${flavour}`, () => buildBootRoot(flavour, kernel, fixtureModules));
    images.set(flavour, await phase(`boot image ${flavour}`, () => buildBootImage(root, release, deb, runDir)));
  }

  const boots: BootRecord[] = [];
  const claimedNow = new Map<RootFlavour, string[]>(
    Object.entries(claimedAt).map(([f, c]) => [f as RootFlavour, [...c]]),
  );
  for (const planned of selectedBoots()) {
    const image = images.get(planned.flavour) as BootImage;
    const outcome = await phase(`boot ${planned.name}`, () =>
      bootImage({ ...planned, disk: image.disk, kernel: image.kernel, initrd: image.initrd }, runDir, BOOT_TIMEOUT_MS),
    );
    const record = bootRecord(outcome, planned.flavour, claimedNow.get(planned.flavour) ?? []);
    boots.push(record);
    say(
      `boot ${planned.name}: ${outcome.observation === null ? "NO OBSERVATION" : "observed"}, ` +
        `${record.kernelBinds.length} binds, ${record.hostBindsOfClaimed.length} host binds of claimed devices`,
    );
    if (planned.plan === "change-claims") {
      claimedNow.get(planned.flavour)?.push(devices.netLate.address);
      // The guest's update-initramfs wrote a new one into the image's /boot.
      await dumpFromImage(image.disk, `/boot/initrd.img-${release}`, image.initrd);
    }
  }

  const wallSeconds = (Date.now() - started) / 1000;
  say(`total ${wallSeconds.toFixed(1)} s; logs in ${runDir}`);
  const reportPath = path.join(runDir, "report.json");
  writeBootReport(reportPath, {
    kernelRelease: release,
    phases: phaseTimes,
    wallSeconds,
    images: [...images.values()],
    boots,
    counts: countHostBinds(boots),
  });
  project.provide("bootReportPath", reportPath);
}

/**
 * VFIO_AUTOBIND_BOOT_ONLY=holds-1,dracut boots only those (when debugging the harness);
 * the tests of the boots left out fail.
 */
function selectedBoots(): readonly PlannedBoot[] {
  const only = process.env.VFIO_AUTOBIND_BOOT_ONLY;
  if (only === undefined || only === "") return PLANNED_BOOTS;
  const names = only.split(",");
  return PLANNED_BOOTS.filter((boot) => names.includes(boot.name));
}

/** The .deb `npm run package` just built: the guest gets the tool the way an admin does. */
function currentDeb(): string {
  const dist = path.join(REPO_ROOT, "dist");
  const debs = fs.existsSync(dist) ? fs.readdirSync(dist).filter((f) => /^vfio-autobind_.*_all\.deb$/.test(f)) : [];
  const newest = debs.map((f) => path.join(dist, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (newest === undefined)
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
