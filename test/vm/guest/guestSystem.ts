/**
 * The guest's side of the world: reading devices from the guest's /sys, running commands,
 * and the few sysfs writes the scenarios make themselves (SR-IOV, the fixture's fail_probe).
 * This file is bundled into the guest; it must never run on the host, whose /sys is real
 * (main.ts checks the kernel command line before anything here is called).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type {
  DeviceState,
  GuestSnapshot,
  JournalWindow,
  ToolJournalEntry,
  UdevdHelperLine,
} from "../shared/protocol.js";

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

export function listDevices(): DeviceState[] {
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
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => T | null | undefined | false,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The argument the packaged rule gives the helper: every udevd line about it contains it. */
const HELPER_ARGUMENT = "/usr/lib/vfio-autobind/udev-helper.js";

/** How a udev worker names the process it has just forked for a RUN program. */
const SPAWNED = /^Successfully forked off '\(spawn\)' as PID \d+/;

type JournalJson = Record<string, unknown>;

/** `journalctl ... -o json`, parsed; journald has written out everything logged before the call. */
function journalJson(args: readonly string[]): JournalJson[] {
  // --sync: journald first processes what is queued on its sockets (a helper's last line).
  spawnSync("journalctl", ["--sync"]);
  const child = spawnSync("journalctl", ["-o", "json", "--no-pager", "-b", ...args], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  return (child.stdout ?? "")
    .split("\n")
    .filter(Boolean)
    .map((line) => parseJson(line) as JournalJson | null)
    .filter((entry): entry is JournalJson => entry !== null);
}

const text = (value: unknown): string | null => (typeof value === "string" ? value : null);
const int = (value: unknown): number | null =>
  typeof value === "string" && /^\d+$/.test(value) ? Number(value) : null;

/** The newest entry's cursor, taken before an action: journalWindow(mark) then holds all it caused. */
export function journalMark(): string | null {
  const [last] = journalJson(["-n", "1", "--output-fields=MESSAGE"]);
  return text(last?.["__CURSOR"]);
}

/**
 * The tool's journal entries and udevd's lines about the helper, after `cursor` (or since
 * boot), from one query so that consecutive windows neither overlap nor miss an entry.
 * udevd logs at debug level in the suite's guest (host/bootFiles.ts), so it names every
 * RUN program it starts.
 */
export function journalWindow(cursor: string | null): JournalWindow {
  const entries = journalJson([
    ...(cursor === null ? [] : [`--after-cursor=${cursor}`]),
    "SYSLOG_IDENTIFIER=vfio-autobind",
    "SYSLOG_IDENTIFIER=systemd-udevd",
    // udevd's workers log under this name.
    "SYSLOG_IDENTIFIER=(udev-worker)",
    "--output-fields=MESSAGE,SYSLOG_IDENTIFIER,PRIORITY,_TRANSPORT,_PID,SYSLOG_PID,_CMDLINE",
  ]);
  const tool: ToolJournalEntry[] = [];
  const udevdHelperLines: UdevdHelperLine[] = [];
  for (const entry of entries) {
    const message = text(entry["MESSAGE"]) ?? JSON.stringify(entry["MESSAGE"]);
    const identifier = text(entry["SYSLOG_IDENTIFIER"]);
    const cursorOf = text(entry["__CURSOR"]) ?? "";
    if (identifier === "vfio-autobind") {
      tool.push({
        cursor: cursorOf,
        message,
        identifier,
        priority: int(entry["PRIORITY"]),
        transport: text(entry["_TRANSPORT"]),
        pid: int(entry["_PID"]) ?? int(entry["SYSLOG_PID"]),
        cmdline: text(entry["_CMDLINE"]),
      });
    } else if (message.includes(HELPER_ARGUMENT) || SPAWNED.test(message)) {
      udevdHelperLines.push({ cursor: cursorOf, message, pid: int(entry["_PID"]) });
    }
  }
  const last = entries[entries.length - 1];
  return { tool, udevdHelperLines, endCursor: last === undefined ? cursor : text(last["__CURSOR"]) };
}

function journaldSuppressed(): string[] {
  return journalJson(["-t", "systemd-journald", "--output-fields=MESSAGE"])
    .map((entry) => text(entry["MESSAGE"]) ?? "")
    .filter((message) => /suppressed/i.test(message));
}

export function snapshot(): GuestSnapshot {
  const sinceBoot = journalWindow(null);
  return {
    uptimeSeconds: uptimeSeconds(),
    devices: listDevices(),
    journal: sinceBoot.tool.map((entry) => entry.message),
    sinceBoot,
    journaldSuppressed: journaldSuppressed(),
  };
}

/** Waits for udev's queue to empty (every RUN program of every queued event has ended). */
export function udevSettle(log: GuestLog): CommandRun {
  return runCommand(log, ["udevadm", "settle", "--timeout=120"], 150_000);
}
