/**
 * Ours against Debian's driverctl on the real kernel, in one place: the
 * two comparison boots, what each has in place at boot, and what the guest reports.
 *
 * Two extra boots of the comparison machine (shared/machineLayout.ts compareDevices: 8
 * virtio-net, each behind its own root port), both with our package and driverctl
 * installed, differing only in which tool's configuration is there at boot:
 *   - "compare-ours": our claim of the 8 devices (Driver=vfio-pci) and the generated rules;
 *     it reports its boot and then runs the alternating trigger rounds and the floors;
 *   - "compare-driverctl": /etc/driverctl.d/pci-<address> for the 8 devices; it reports
 *     its boot only.
 * The guest measures and reports raw times; host/driverctlFigures.ts turns them into the
 * bench keys, and no test judges a time.
 */
import { compareDevices } from "./machineLayout.js";

export const COMPARE_BOOTS = ["compare-ours", "compare-driverctl"] as const;
export type CompareBoot = (typeof COMPARE_BOOTS)[number];

/** Names the boot on the kernel command line; the main boot has none. */
export const BOOT_PARAMETER = "vfio_autobind_vmtest_boot";

/**
 * Added to the comparison boots' kernel command line: dynamic debug prints every bind of
 * the driver core with its time stamp (6.1: "driver: 'vfio-pci': driver_bound: bound to
 * device '0000:01:00.0'"); a larger log buffer so nothing from early boot is overwritten
 * before the runner reads it.
 */
export const compareKernelParameters = (boot: CompareBoot): string[] => [
  `${BOOT_PARAMETER}=${boot}`,
  'dyndbg="file drivers/base/dd.c +p"',
  "log_buf_len=8M",
];

/** Both tools pin every device to the generic VFIO driver. */
export const COMPARE_DRIVER = "vfio-pci";
export const COMPARE_MODULE = "vfio_pci";

export const compareAddresses: readonly string[] = compareDevices.map((d) => d.address);

/** The device of the one-device rounds. */
export const oneDeviceAddress = compareAddresses[0] as string;

/**
 * The claim as `vfio-autobind claim --driver vfio-pci <the 8 addresses>` writes it: the
 * host writes the same file before boot (claimFileName/claimFileText), so the guest's
 * `unclaim <the 8 addresses>` removes exactly that file.
 */
export const compareClaimRequest = {
  addresses: compareAddresses,
  ids: [],
  classes: [],
  vfsOf: [],
  exclude: false,
  driver: COMPARE_DRIVER,
  force: false,
} as const;

export const DRIVERCTL_DIR = "/etc/driverctl.d";
export const driverctlFile = (address: string): string => `${DRIVERCTL_DIR}/pci-${address}`;

/** Rounds per tool and case; medians over them. */
export const ROUNDS = 3;
/** Runs of each floor command, alternating. */
export const FLOOR_RUNS = 5;

/** One bind the kernel logged. */
export interface KernelBind {
  readonly address: string;
  readonly driver: string;
  /** Seconds since kernel start (the printk time stamp). */
  readonly seconds: number;
}

/** What one comparison boot saw of its own boot. */
export interface BootToBound {
  readonly boot: CompareBoot;
  /** Every bind of the 8 devices the kernel logged, in order. */
  readonly binds: readonly KernelBind[];
  /** The last bind to vfio-pci among the 8 devices, or null if one never got there. */
  readonly lastBindSeconds: number | null;
  /** Each device's driver once the runner started (it waits for all 8 on vfio-pci, 300 s at most). */
  readonly drivers: Readonly<Record<string, string | null>>;
  /** How many kernel log records were read, and whether any bind line was found at all (dyndbg works). */
  readonly kernelRecords: number;
  /** The boot-time hold script's kernel log lines ("vfio-autobind: holding ..."), with their time stamps. */
  readonly holdLines: readonly string[];
}

/** One /dev/kmsg record ("prio,seq,usec,flags[,...];text" then dictionary lines) as [seconds since kernel start, text]. */
export function parseKmsgRecord(record: string): [number, string] | null {
  const first = record.split("\n")[0] ?? "";
  const semicolon = first.indexOf(";");
  if (semicolon < 0) return null;
  const usec = first.slice(0, semicolon).split(",")[2];
  if (usec === undefined || !/^\d+$/.test(usec)) return null;
  return [Number(usec) / 1e6, first.slice(semicolon + 1)];
}

/** 6.1's driver_bound() pr_debug, and the dev_dbg form of later kernels. */
const BOUND_61 = /^driver: '([^']+)': driver_bound: bound to device '([^']+)'$/;
const BOUND_LATER = /^\S+ (\S+): driver: '([^']+)': driver_bound: bound to device$/;

/** The binds of `devices` among kernel log records, in log order. */
export function bindsIn(records: ReadonlyArray<readonly [number, string]>, devices: readonly string[]): KernelBind[] {
  const wanted = new Set(devices);
  const binds: KernelBind[] = [];
  for (const [seconds, text] of records) {
    const old = BOUND_61.exec(text);
    const later = old === null ? BOUND_LATER.exec(text) : null;
    const address = old?.[2] ?? later?.[1];
    const driver = old?.[1] ?? later?.[2];
    if (address !== undefined && driver !== undefined && wanted.has(address)) binds.push({ address, driver, seconds });
  }
  return binds;
}

/**
 * When the last of `addresses` was bound to `driver` (seconds since kernel start), from the
 * binds the kernel logged: null unless every one's last logged bind is to `driver`, has a
 * time, and the device is still on it (`driverNow`). Both suites' comparison boots use it.
 */
export function lastBindTo(
  binds: readonly { readonly address: string; readonly driver: string; readonly seconds: number | null }[],
  addresses: readonly string[],
  driver: string,
  driverNow: (address: string) => string | null,
): number | null {
  const times = addresses.map((address) => {
    const last = binds.filter((b) => b.address === address).at(-1);
    return last !== undefined && last.driver === driver && driverNow(address) === driver ? last.seconds : null;
  });
  return times.every((s): s is number => s !== null) ? Math.max(...times) : null;
}

export type CompareTool = "ours" | "driverctl";

/** One timed round: from `udevadm trigger --action=add` of the devices until all show vfio-pci. */
export interface TriggerRound {
  readonly tool: CompareTool;
  readonly devices: readonly string[];
  /** Null when the round timed out. */
  readonly seconds: number | null;
  /** When each device was first seen on vfio-pci, seconds after the trigger started. */
  readonly boundAfter: Readonly<Record<string, number | null>>;
  /** Each device's driver at the end of the round. */
  readonly drivers: Readonly<Record<string, string | null>>;
  /** How long `udevadm trigger` itself took (inside the window). */
  readonly triggerSeconds: number;
  /** Each device just before the trigger: the state every round must start from (no driver, no override). */
  readonly before: readonly {
    readonly address: string;
    readonly driver: string | null;
    readonly override: string | null;
  }[];
}

export interface FloorRuns {
  readonly command: readonly string[];
  readonly seconds: readonly number[];
  /** Exit codes of the runs: a failing floor is reported, not timed as if it had run. */
  readonly exitCodes: readonly (number | null)[];
}

/** What the compare-ours boot reports (scenario "driverctl-compare"). */
export interface DriverctlCompareResult {
  readonly bootToBound: BootToBound;
  /**
   * Null when the rules `claim` writes in the running guest (the rounds' rules) are the very
   * rules the host put there for the boot; otherwise the first differing line. So the boot
   * measured the rules an admin's `claim` gives.
   */
  readonly claimRulesDifferFromBoot: string | null;
  readonly rounds: readonly TriggerRound[];
  readonly floors: {
    readonly nodeJitless: FloorRuns;
    readonly bash: FloorRuns;
    readonly systemdRun: FloorRuns;
  };
  readonly driverctlVersion: string;
  readonly journals: ToolJournals;
}

/** Each tool's journal lines since boot (`journalctl -o short-monotonic`), for reading where the time goes. */
export interface ToolJournals {
  readonly tool: readonly string[];
  readonly driverctl: readonly string[];
  /** systemd's lines about the boot-time hold unit, udev's coldplug and udevd. */
  readonly boot: readonly string[];
}

/** What the compare-driverctl boot reports (scenario "driverctl-boot"). */
export interface DriverctlBootResult {
  readonly bootToBound: BootToBound;
  readonly journals: ToolJournals;
}
