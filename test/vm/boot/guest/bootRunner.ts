/**
 * The boot suite's guest runner, started by a unit once the real root is up. It waits for
 * udev and the helper to finish, carries out the boot's plan (PLAN_PARAMETER on the kernel
 * command line), and sends one observation to the host; the unit then powers off. It
 * judges nothing: the host's tests do.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { HOLD_OVERRIDE } from "../../../../src/policy/hold.js";
import { GUEST_FLAG } from "../../shared/protocol.js";
import type { DeviceState } from "../../shared/protocol.js";
import {
  GuestLog,
  listDevices,
  readDevice,
  runCommand,
  udevSettle,
  uptimeSeconds,
  waitFor,
  writeGuestSysfs,
} from "../../guest/guestSystem.js";
import { devices } from "../shared/bootMachine.js";
import {
  formatBootLine,
  PLAN_PARAMETER,
  type BootObservation,
  type BootPlan,
  type GuestCommand,
  type JournalLine,
} from "../shared/bootProtocol.js";

const PORT = "/dev/ttyS1";
const PLANS: readonly BootPlan[] = ["observe", "release-held", "change-claims"];

/** How long the helper may take after udev settled to move every held device on (TCG is slow). */
const HELD_TIMEOUT_MS = 60_000;

function command(log: GuestLog, argv: readonly string[], timeoutMs?: number): GuestCommand {
  const run = runCommand(log, argv, timeoutMs);
  return { argv: run.argv, exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr };
}

function journalLine(json: string): JournalLine {
  const entry = JSON.parse(json) as Record<string, unknown>;
  const text = (value: unknown): string | null => (typeof value === "string" ? value : null);
  return {
    message: text(entry["MESSAGE"]) ?? JSON.stringify(entry["MESSAGE"]),
    transport: text(entry["_TRANSPORT"]),
    syslogPid: text(entry["SYSLOG_PID"]),
  };
}

function isHeld(device: DeviceState): boolean {
  return device.driver === null && device.override === HOLD_OVERRIDE;
}

function planOf(cmdline: readonly string[]): BootPlan {
  const value = cmdline.find((word) => word.startsWith(`${PLAN_PARAMETER}=`))?.slice(PLAN_PARAMETER.length + 1);
  const plan = PLANS.find((p) => p === value);
  if (plan === undefined) throw new Error(`${PLAN_PARAMETER}=${value ?? ""}: not one of ${PLANS.join(", ")}`);
  return plan;
}

/** Scenario (e): a device held as the initramfs holds it, then `release`d. */
function releaseHeld(log: GuestLog): GuestCommand[] {
  const address = devices.netPinned.address;
  const sysfs = `/sys/bus/pci/devices/${address}`;
  writeGuestSysfs(log, `${sysfs}/driver_override`, HOLD_OVERRIDE);
  const driver = readDevice(address).driver;
  if (driver !== null) writeGuestSysfs(log, `${sysfs}/driver/unbind`, address);
  const held = readDevice(address);
  log.note(`before release: ${JSON.stringify(held)}`);
  return [command(log, ["vfio-autobind", "release", address])];
}

/** Scenario (d): the claims change after the initramfs was built, then it is refreshed. */
function changeClaims(log: GuestLog): GuestCommand[] {
  return [
    command(log, ["vfio-autobind", "claim", devices.netLate.address, "--now"]),
    command(log, ["vfio-autobind", "status"]),
    command(log, ["vfio-autobind", "check"]),
    command(log, ["update-initramfs", "-u"], 600_000),
    command(log, ["vfio-autobind", "status"]),
    command(log, ["vfio-autobind", "check"]),
    command(log, ["sync"]),
  ];
}

async function main(): Promise<void> {
  const cmdlineText = fs.readFileSync("/proc/cmdline", "utf8").trim();
  const cmdline = cmdlineText.split(/\s+/);
  // The plans write to /sys: refuse to run anywhere but the suite's own guest.
  if (!cmdline.includes(GUEST_FLAG)) throw new Error(`not the boot suite's guest (${GUEST_FLAG} is missing)`);
  const plan = planOf(cmdline);
  const log = new GuestLog();
  const runnerStartedAt = uptimeSeconds();
  udevSettle(log);
  // The helper of a held device may still be running; a timeout is reported, not thrown.
  await waitFor("no held device", HELD_TIMEOUT_MS, () => !listDevices().some(isHeld)).catch((error: unknown) =>
    log.note(String(error)),
  );
  const settledAt = uptimeSeconds();
  const observedDevices = listDevices();
  spawnSync("journalctl", ["--sync"]);
  const journal = spawnSync("journalctl", ["-b", "-t", "vfio-autobind", "-o", "json", "--no-pager"], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const status = command(log, ["vfio-autobind", "status"]);
  const statusJson = command(log, ["vfio-autobind", "status", "--json"]);
  const actions = plan === "release-held" ? releaseHeld(log) : plan === "change-claims" ? changeClaims(log) : [];
  const kernelLog = spawnSync("dmesg", [], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const observation: BootObservation = {
    plan,
    cmdline: cmdlineText,
    kernelRelease: fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    runnerStartedAt,
    settledAt,
    devices: observedDevices,
    kernelLog: (kernelLog.stdout ?? "").split("\n").filter(Boolean),
    toolJournal: (journal.stdout ?? "").split("\n").filter(Boolean).map(journalLine),
    status,
    statusJson,
    actions,
    devicesAfter: plan === "observe" ? [] : listDevices(),
  };
  const fd = fs.openSync(PORT, "w");
  fs.writeSync(fd, formatBootLine(observation));
  fs.closeSync(fd);
}

main().catch((error: unknown) => {
  process.stderr.write(`vmboot runner failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
