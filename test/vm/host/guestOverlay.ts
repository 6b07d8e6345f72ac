/**
 * The per-run layer of the guest: the tool (installTool.ts), the guest test runner bundled
 * for Node 18, the systemd unit that starts it and powers off, and any files a scenario
 * needs in place at boot. Small, so it is rebuilt on every run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { build } from "esbuild";
import { VM_DIR } from "./paths.js";
import { installTool, type InstallMethod } from "./installTool.js";
import { writeFile } from "./rootFiles.js";
import { packCpio } from "./cpioArchive.js";
import { writeBootFiles, type BootFiles } from "./bootFiles.js";

const RUNNER = "/usr/lib/vfio-autobind-vmtest/runner.js";
const UNIT = "vfio-autobind-vmtest.service";

/**
 * Starts once udev's coldplug has been triggered; the runner then waits for the queue
 * (udevadm settle), so the "boot" snapshot shows what udev (and, once it exists, our rule)
 * did. Powers the guest off whatever happens, which ends QEMU (-no-reboot). Its output
 * goes to the console too, for the log tail on failure. A comparison boot's unit first
 * runs a wait command (host/driverctlBoots.ts); oneshot units have no start timeout.
 */
export const runnerUnitText = (description: string, runner: string, waitFirst?: string): string => `[Unit]
Description=${description}
After=systemd-udev-trigger.service systemd-journald.service systemd-modules-load.service vfio-autobind-sweep.service
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
${waitFirst === undefined ? "" : `ExecStartPre=${waitFirst}\n`}ExecStart=/usr/bin/node ${runner}
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`;

/**
 * A runner's unit runs this before Node (its `waitFirst`) in the comparison boots: it waits
 * until every one of `addresses` is bound to `driver` (the driver's directory holds a link
 * per bound device, so `[ -e ]`, a shell builtin, is all it takes), 300 s at most. A Node
 * start (over a second under TCG) would otherwise compete for the CPU with the boot being
 * measured.
 */
export const waitBoundScript = (addresses: readonly string[], driver: string): string => `#!/bin/sh
# VM suites (test/vm/host/guestOverlay.ts): wait for the binds before the runner starts.
n=0
while [ "$n" -lt 600 ]; do
  missing=0
  for address in ${addresses.join(" ")}; do
    [ -e /sys/bus/pci/drivers/${driver}/"$address" ] || missing=1
  done
  [ "$missing" = 0 ] && exit 0
  sleep 0.5
  n=$((n + 1))
done
exit 0
`;

export interface GuestOverlay {
  readonly cpio: string;
  readonly install: InstallMethod;
  readonly bootFiles: BootFiles;
}

export async function buildGuestOverlay(baseRoot: string, runDir: string): Promise<GuestOverlay> {
  const overlay = path.join(runDir, "overlay");
  fs.mkdirSync(overlay, { mode: 0o755 });
  // "." in the archive is the guest's /: its mode is applied to / itself.
  fs.chmodSync(overlay, 0o755);
  const install = await installTool(baseRoot, overlay);

  await writeGuestRunner(overlay);
  // After the tool: the generated rules' digest covers the claim files its package installed.
  const bootFiles = writeBootFiles(baseRoot, overlay);

  return { cpio: await packOverlay(overlay, path.join(runDir, "overlay.cpio")), install, bootFiles };
}

/**
 * The guest runner, its unit and the unit's link: every boot's. `waitFirst`, a command
 * the unit runs before Node starts (the comparison boots wait there for their binds).
 */
export async function writeGuestRunner(overlay: string, waitFirst?: string): Promise<void> {
  const bundled = await build({
    entryPoints: [path.join(VM_DIR, "guest", "main.ts")],
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    write: false,
    logLevel: "warning",
  });
  const runner = bundled.outputFiles[0];
  if (runner === undefined) throw new Error("esbuild produced no guest runner");
  writeFile(overlay, RUNNER.slice(1), runner.contents, 0o644);
  writeFile(
    overlay,
    `etc/systemd/system/${UNIT}`,
    runnerUnitText("vfio-autobind VM test scenarios", RUNNER, waitFirst),
    0o644,
  );
  const wants = path.join(overlay, "etc/systemd/system/multi-user.target.wants");
  fs.mkdirSync(wants, { recursive: true, mode: 0o755 });
  fs.symlinkSync(`/etc/systemd/system/${UNIT}`, path.join(wants, UNIT));
}

/** Packs the overlay directory as a cpio archive and removes the directory. */
export async function packOverlay(overlay: string, cpio: string): Promise<string> {
  await packCpio(overlay, cpio);
  fs.rmSync(overlay, { recursive: true });
  return cpio;
}
