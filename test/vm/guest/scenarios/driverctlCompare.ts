/**
 * Ours against Debian's driverctl, on the comparison machine: 8
 * virtio-net, each behind its own root port (shared/driverctlCompare.ts says which boot
 * has what). Measures and reports; host/driverctlFigures.ts computes the figures and no
 * test judges a time.
 *
 * Timed rounds, ours and driverctl alternating, ROUNDS of each, for all 8 devices and for
 * one: from just before `udevadm trigger --action=add <the devices>` until every device's
 * `driver` link names vfio-pci (polled every 10 ms by this process, which is idle in
 * between). Each tool is pinned to vfio-pci: ours by a claim with Driver=vfio-pci, driverctl
 * by /etc/driverctl.d/pci-<address> written directly (`driverctl set-override` would unbind
 * at once and never exercise its udev path).
 *
 * Every round starts from the same state, reached outside the timed window (resetDevices):
 *   - driverctl's driverctl@*.service units stopped: each stays active after its one run
 *     (RemainAfterExit=yes), and an active unit is not started again by the next add;
 *   - udev's queue empty (`udevadm settle`), so no helper or unit of an earlier round is
 *     still running;
 *   - each device's driver_override cleared and the device unbound by hand through sysfs,
 *     then the queue empty again (the unbind events).
 * That is fair to both: the kernel state is the same for either tool (no driver, no
 * override, vfio_pci already loaded: the boot loaded it, so neither pays a module load),
 * the only configuration present is the timed tool's (switchTo: our claim file and the
 * rules the tool generated in this guest with and without it, udev reloaded; the driverctl
 * files written or removed), and the unbound device with a cleared override is what each
 * tool meets at a real add: a device no driver has taken. Our tool's records under /run stay
 * as its previous bind left them, as they would on a machine where a device is re-added.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  COMPARE_DRIVER,
  compareAddresses,
  compareClaimRequest,
  DRIVERCTL_DIR,
  driverctlFile,
  FLOOR_RUNS,
  oneDeviceAddress,
  ROUNDS,
  type BootToBound,
  type CompareBoot,
  type CompareTool,
  type DriverctlBootResult,
  type DriverctlCompareResult,
  type FloorRuns,
  type ToolJournals,
  type TriggerRound,
  bindsIn,
  lastBindTo,
  parseKmsgRecord,
} from "../../shared/driverctlCompare.js";
import { claimFileName } from "../../../../src/config/claimWriter.js";
import { GUEST_CONFIG_DIR, GUEST_RULES_FILE } from "../../shared/udevClaims.js";
import { readDevice, runCommand, runTool, udevSettle, writeGuestSysfs, type GuestLog } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";

const PCI_DEVICES = "/sys/bus/pci/devices";
const POLL_MS = 10;
const ROUND_TIMEOUT_MS = 180_000;

const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function driverOf(address: string): string | null {
  try {
    return path.basename(fs.readlinkSync(path.join(PCI_DEVICES, address, "driver")));
  } catch {
    return null;
  }
}

const driversOf = (devices: readonly string[]): Record<string, string | null> =>
  Object.fromEntries(devices.map((a) => [a, driverOf(a)]));

/** The kernel log's records (/dev/kmsg, non-blocking: EAGAIN ends it), as [seconds since kernel start, text]. */
function kernelRecords(): Array<[number, string]> {
  const fd = fs.openSync("/dev/kmsg", fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const records: Array<[number, string]> = [];
  const buffer = Buffer.alloc(16384);
  try {
    for (;;) {
      let length: number;
      try {
        length = fs.readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EPIPE") continue; // a record overwritten while we read: the next one follows
        if (code === "EAGAIN") break;
        throw error;
      }
      if (length === 0) break;
      const record = parseKmsgRecord(buffer.toString("utf8", 0, length));
      if (record !== null) records.push(record);
    }
  } finally {
    fs.closeSync(fd);
  }
  return records;
}

/**
 * The boot as the kernel logged it. The runner's unit waits (a shell loop, nothing heavier
 * than sleep, for at most 300 s) until all 8 devices are on vfio-pci before it starts Node,
 * so that this process competes with neither tool during the boot it measures.
 */
function bootToBound(log: GuestLog, boot: CompareBoot): BootToBound {
  const drivers = driversOf(compareAddresses);
  const records = kernelRecords();
  const binds = bindsIn(records, compareAddresses);
  const lastBindSeconds = lastBindTo(binds, compareAddresses, COMPARE_DRIVER, (address) => drivers[address] ?? null);
  // The boot-time hold script's own lines (vfio-autobind-hold.service, before coldplug).
  const holdLines = records
    .filter(([, text]) => text.startsWith("vfio-autobind: "))
    .map(([seconds, text]) => `[${seconds.toFixed(6)}] ${text}`);
  log.note(
    `${boot}: ${records.length} kernel records, ${binds.length} binds of the 8 devices, last on vfio-pci at ${lastBindSeconds} s`,
  );
  for (const bind of binds) log.note(`  [${bind.seconds.toFixed(6)}] ${bind.address} -> ${bind.driver}`);
  for (const line of holdLines) log.note(`  ${line}`);
  return { boot, binds, lastBindSeconds, drivers, kernelRecords: records.length, holdLines };
}

/** Back to the round's starting state (see the file comment); outside every timed window. */
function resetDevices(log: GuestLog, devices: readonly string[]): void {
  // The pattern matches loaded units only; no match is not an error.
  runCommand(log, ["systemctl", "stop", "driverctl@*.service"]);
  udevSettle(log);
  for (const address of devices) {
    writeGuestSysfs(log, path.join(PCI_DEVICES, address, "driver_override"), "\n");
    if (driverOf(address) !== null) writeGuestSysfs(log, path.join(PCI_DEVICES, address, "driver", "unbind"), address);
  }
  udevSettle(log);
}

/**
 * Our configuration, both ways: the claim file and the rules the tool generates with it and
 * without it, made by the tool itself in this guest before the first round (`unclaim`,
 * then `claim --driver vfio-pci <the 8 addresses>`), so that every "ours" round runs the
 * rules `claim` writes on this running kernel, vfio_pci loaded: what an admin's machine has
 * after claiming. The switches then put the saved files back and reload udev, as those
 * commands do, at a fraction of their cost (a Node CLI run takes over 10 s here).
 */
interface OurConfig {
  readonly claimText: string;
  readonly rulesWith: string;
  readonly rulesWithout: string;
}

const CLAIM_FILE = path.join(GUEST_CONFIG_DIR, claimFileName(compareClaimRequest));

function prepareOurConfig(log: GuestLog): OurConfig {
  runTool(log, ["unclaim", ...compareAddresses]);
  const rulesWithout = fs.readFileSync(GUEST_RULES_FILE, "utf8");
  runTool(log, ["claim", "--driver", COMPARE_DRIVER, ...compareAddresses]);
  return {
    claimText: fs.readFileSync(CLAIM_FILE, "utf8"),
    rulesWith: fs.readFileSync(GUEST_RULES_FILE, "utf8"),
    rulesWithout,
  };
}

/**
 * The ranking lines' driver names aside: the guest knows those of the modules it has
 * loaded since boot, the host knew only vfio_pci's (the decisions' digest leaves them out,
 * and the pinned devices here never reach the ranking). The claim line with its pin stays.
 */
const withoutRankingDriverNames = (rules: string): string =>
  rules.replace(/^(ENV\{MODALIAS\}==.*ENV\{VFIO_AUTOBIND_DRIVER\}=)"[^"]*"/gm, '$1""');

/** The first line where two texts differ (both shown), or null when they are the same. */
function firstDifference(a: string, b: string): string | null {
  if (a === b) return null;
  const left = a.split("\n");
  const right = b.split("\n");
  const n = left.findIndex((line, i) => line !== right[i]);
  const at = n < 0 ? left.length : n;
  return `line ${at + 1}: ${JSON.stringify(left[at] ?? null)} / ${JSON.stringify(right[at] ?? null)}`;
}

function replaceFile(file: string, text: string): void {
  const temporary = `${file}.vmtest-${process.pid}`;
  fs.writeFileSync(temporary, text, { mode: 0o644 });
  fs.renameSync(temporary, file);
}

/** Only the timed tool's configuration present; every switch happens outside the timed windows. */
function switchTo(log: GuestLog, tool: CompareTool, ours: OurConfig): void {
  // The previous round's helpers (they run after the bind) finish under the config they started with.
  udevSettle(log);
  if (tool === "driverctl") {
    fs.rmSync(CLAIM_FILE);
    replaceFile(GUEST_RULES_FILE, ours.rulesWithout);
    runCommand(log, ["udevadm", "control", "--reload"]);
    fs.mkdirSync(DRIVERCTL_DIR, { recursive: true });
    for (const address of compareAddresses) fs.writeFileSync(driverctlFile(address), `${COMPARE_DRIVER}\n`);
    log.note(`our claim and its rules out, ${DRIVERCTL_DIR}/pci-<address> (${COMPARE_DRIVER}) in for the 8 devices`);
  } else {
    for (const address of compareAddresses) fs.rmSync(driverctlFile(address), { force: true });
    replaceFile(CLAIM_FILE, ours.claimText);
    replaceFile(GUEST_RULES_FILE, ours.rulesWith);
    runCommand(log, ["udevadm", "control", "--reload"]);
    log.note(`${DRIVERCTL_DIR}/pci-<address> out, our claim and its rules in`);
  }
}

async function triggerRound(log: GuestLog, tool: CompareTool, devices: readonly string[]): Promise<TriggerRound> {
  const before = devices.map(readDevice);
  const start = process.hrtime.bigint();
  const trigger = spawnSync("udevadm", ["trigger", "--action=add", ...devices.map((a) => path.join(PCI_DEVICES, a))], {
    encoding: "utf8",
  });
  const triggerSeconds = secondsSince(start);
  const boundAfter: Record<string, number | null> = Object.fromEntries(devices.map((a) => [a, null]));
  let seconds: number | null = null;
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  while (Date.now() < deadline) {
    for (const address of devices)
      if (boundAfter[address] === null && driverOf(address) === COMPARE_DRIVER)
        boundAfter[address] = secondsSince(start);
    if (devices.every((a) => boundAfter[a] !== null)) {
      seconds = Math.max(...devices.map((a) => boundAfter[a] as number));
      break;
    }
    await sleep(POLL_MS);
  }
  log.note(
    `round ${tool} x${devices.length}: trigger exit ${trigger.status} in ${triggerSeconds.toFixed(3)} s, ` +
      `all on ${COMPARE_DRIVER} after ${seconds === null ? "(timed out)" : `${seconds.toFixed(3)} s`}`,
  );
  return {
    tool,
    devices,
    seconds,
    boundAfter,
    drivers: driversOf(devices),
    triggerSeconds,
    before: before.map((d) => ({ address: d.address, driver: d.driver, override: d.override })),
  };
}

function floor(log: GuestLog, command: readonly string[], runs: FloorRuns): FloorRuns {
  const start = process.hrtime.bigint();
  const child = spawnSync(command[0] as string, command.slice(1), {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  const seconds = secondsSince(start);
  if (child.status !== 0)
    log.note(`floor ${command.join(" ")}: exit ${child.status} ${String(child.error ?? "")} ${child.stderr.trim()}`);
  return { command, seconds: [...runs.seconds, seconds], exitCodes: [...runs.exitCodes, child.status] };
}

function floors(log: GuestLog): DriverctlCompareResult["floors"] {
  const empty = (command: readonly string[]): FloorRuns => ({ command, seconds: [], exitCodes: [] });
  let nodeJitless = empty(["node", "--jitless", "-e", "0"]);
  let bash = empty(["bash", "-c", ":"]);
  let systemdRun = empty(["systemd-run", "--quiet", "--wait", "true"]);
  for (let n = 0; n < FLOOR_RUNS; n++) {
    nodeJitless = floor(log, nodeJitless.command, nodeJitless);
    bash = floor(log, bash.command, bash);
    systemdRun = floor(log, systemdRun.command, systemdRun);
  }
  log.note(
    `floors (s): node --jitless ${nodeJitless.seconds.map((s) => s.toFixed(3)).join(" ")}; bash ${bash.seconds
      .map((s) => s.toFixed(3))
      .join(" ")}; systemd-run ${systemdRun.seconds.map((s) => s.toFixed(3)).join(" ")}`,
  );
  return { nodeJitless, bash, systemdRun };
}

/**
 * What each tool logged, with monotonic time stamps (seconds since kernel start, as the
 * kernel log's): our helper's journal lines and driverctl's units (systemd's Starting/Finished
 * lines for them and the script's output). For reading where the time goes; nothing judges it.
 */
function toolJournals(log: GuestLog): ToolJournals {
  const lines = (args: readonly string[]): string[] =>
    runCommand(log, ["journalctl", "-b", "--no-pager", "-o", "short-monotonic", ...args])
      .stdout.split("\n")
      .filter(Boolean);
  return {
    tool: lines(["-t", "vfio-autobind"]),
    driverctl: lines(["-u", "driverctl@*"]),
    // When the boot-time hold and udev's coldplug ran, against the binds' time stamps.
    boot: lines([
      "-u",
      "vfio-autobind-hold.service",
      "-u",
      "systemd-udev-trigger.service",
      "-u",
      "systemd-udevd.service",
    ]),
  };
}

/** The compare-ours boot: its boot, then the alternating rounds, then the floors. */
export const driverctlCompare = defineScenario<DriverctlCompareResult>({
  name: "driverctl-compare",
  async run({ log }) {
    const boot = bootToBound(log, "compare-ours");
    const version = runCommand(log, ["dpkg-query", "-W", "-f", "${Version}", "driverctl"]).stdout.trim();
    const rounds: TriggerRound[] = [];
    const bootRules = fs.readFileSync(GUEST_RULES_FILE, "utf8");
    const ours = prepareOurConfig(log);
    const differing = firstDifference(withoutRankingDriverNames(bootRules), withoutRankingDriverNames(ours.rulesWith));
    // prepareOurConfig leaves our claim in place: ours first, then driverctl, and so on.
    for (let round = 0; round < ROUNDS; round++) {
      for (const tool of ["ours", "driverctl"] as const) {
        if (round > 0 || tool === "driverctl") switchTo(log, tool, ours);
        resetDevices(log, compareAddresses);
        rounds.push(await triggerRound(log, tool, compareAddresses));
        resetDevices(log, [oneDeviceAddress]);
        rounds.push(await triggerRound(log, tool, [oneDeviceAddress]));
      }
    }
    udevSettle(log);
    return {
      bootToBound: boot,
      claimRulesDifferFromBoot: differing,
      rounds,
      floors: floors(log),
      driverctlVersion: version,
      journals: toolJournals(log),
    };
  },
});

/** The compare-driverctl boot reports its boot only. */
export const driverctlBoot = defineScenario<DriverctlBootResult>({
  name: "driverctl-boot",
  run({ log }) {
    return { bootToBound: bootToBound(log, "compare-driverctl"), journals: toolJournals(log) };
  },
});
