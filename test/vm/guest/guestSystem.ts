/**
 * The guest's side of the world: reading devices from the guest's /sys, running commands,
 * and the few sysfs writes the scenarios make themselves (SR-IOV, the fixture's fail_probe).
 * This file is bundled into the guest; it must never run on the host, whose /sys is real
 * (main.ts checks the kernel command line before anything here is called).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DeviceState, GuestSnapshot } from "../shared/protocol.js";

const PCI_DEVICES = "/sys/bus/pci/devices";

/** What a command did; `json` is its stdout parsed, when it was JSON. */
export interface CommandRun {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: unknown;
  readonly seconds: number;
}

export class GuestLog {
  readonly lines: string[] = [];

  note(line: string): void {
    this.lines.push(line);
    // stderr goes to the journal and the console: the host shows the console tail on failure.
    process.stderr.write(`vmtest: ${line}\n`);
  }
}

/** Runs a command from an argument vector (never a shell) and logs it with its output. */
export function runCommand(log: GuestLog, argv: readonly string[], timeoutMs = 120_000): CommandRun {
  const started = Date.now();
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawnSync(file, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const run: CommandRun = {
    argv,
    exitCode: child.status,
    stdout: child.stdout ?? "",
    stderr: child.stderr ?? (child.error ? String(child.error) : ""),
    json: parseJson(child.stdout ?? ""),
    seconds: (Date.now() - started) / 1000,
  };
  log.note(`$ ${argv.join(" ")}  -> exit ${run.exitCode} in ${run.seconds.toFixed(1)} s`);
  for (const line of `${run.stdout}${run.stderr}`.split("\n").filter(Boolean).slice(0, 80)) log.note(`  | ${line}`);
  return run;
}

/** The tool as an admin runs it: the installed `vfio-autobind` command. */
export function runTool(log: GuestLog, args: readonly string[]): CommandRun {
  return runCommand(log, ["vfio-autobind", ...args]);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function readTrimmed(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

function linkName(link: string): string | null {
  try {
    return path.basename(fs.readlinkSync(link));
  } catch {
    return null;
  }
}

export function readDevice(address: string): DeviceState {
  const dir = path.join(PCI_DEVICES, address);
  const hex = (name: string): string => (readTrimmed(path.join(dir, name)) ?? "").replace(/^0x/, "");
  const override = readTrimmed(path.join(dir, "driver_override"));
  return {
    address,
    id: `${hex("vendor")}:${hex("device")}`,
    driver: linkName(path.join(dir, "driver")),
    override: override === null || override === "" || override === "(null)" ? null : override,
    iommuGroup: linkName(path.join(dir, "iommu_group")),
    vfioDev: fs.existsSync(path.join(dir, "vfio-dev")),
  };
}

function listDevices(): DeviceState[] {
  return fs.readdirSync(PCI_DEVICES).sort().map(readDevice);
}

/** The PCI functions behind a bridge or root port (its children in the device tree). */
export function devicesBehind(bridgeAddress: string): string[] {
  const dir = fs.realpathSync(path.join(PCI_DEVICES, bridgeAddress));
  return fs
    .readdirSync(dir)
    .filter((name) => /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(name))
    .sort();
}

/** The VFs of an SR-IOV PF, through its virtfnN links. */
export function virtualFunctions(pfAddress: string): string[] {
  const dir = path.join(PCI_DEVICES, pfAddress);
  return fs
    .readdirSync(dir)
    .filter((name) => /^virtfn\d+$/.test(name))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((name) => linkName(path.join(dir, name)) ?? name);
}

export function vfioGroupNodeExists(group: string | null): boolean {
  return group !== null && fs.existsSync(`/dev/vfio/${group}`);
}

/** A write to the guest's sysfs, logged. Only SR-IOV control and fixture parameters need one. */
export function writeGuestSysfs(log: GuestLog, file: string, value: string): void {
  if (!file.startsWith("/sys/")) throw new Error(`not a sysfs file: ${file}`);
  log.note(`write ${JSON.stringify(value)} > ${file}`);
  fs.writeFileSync(file, value);
}

export function uptimeSeconds(): number {
  return Number((readTrimmed("/proc/uptime") ?? "0").split(" ")[0]);
}

/** Polls until `check` returns a value, or gives up after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | null | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The tool's own journal lines (`journalctl -t vfio-autobind`), for the journal scenario. */
function toolJournal(): string[] {
  const child = spawnSync("journalctl", ["-t", "vfio-autobind", "-o", "json", "--no-pager", "-b"], { encoding: "utf8" });
  return (child.stdout ?? "")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const entry = parseJson(line) as { MESSAGE?: unknown } | null;
      return typeof entry?.MESSAGE === "string" ? entry.MESSAGE : line;
    });
}

export function snapshot(): GuestSnapshot {
  return { uptimeSeconds: uptimeSeconds(), devices: listDevices(), journal: toolJournal() };
}
