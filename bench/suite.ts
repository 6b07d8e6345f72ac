/**
 * npm run bench: the per-process figures, each a ratio against something measured in the
 * same run (these machines are noisy), medians over alternating runs.
 *   entryVsNodeFloorRatio       one udev event deciding for a claimed device (production
 *                               bundle, node with the packaged rule's flags) against
 *                               node with the installed wrapper's flags, `-e 0`
 *   entryVsNodeFloorRatioUdevEnv  the same pair with udev's environment only (nothing inherited)
 *   entryRssVsFloorRatio        that event's peak RSS against the same floor's (wait4's
 *                               ru_maxrss, through bench/peakRss.py)
 *   spawnsPerThousandUnclaimed  RUN programs udev would start per 1,000 unclaimed add events
 *   burst256VsFloorRatio        256 concurrent VF add events on the simulated kernel (after one
 *                               untimed event that warms the page cache) against
 *                               256 concurrent floor processes
 *   vsDriverctlRatio            setting a VFIO override: ours (bind --driver vfio-pci) over
 *                               driverctl set-override, on the same fake tree
 * The ranking figure comes from rankingBench.ts, run in-process by run.mjs.
 * The fake trees, simulated kernel and journal come from support/, which the tests share;
 * nothing here imports from test/ or installs anything.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";
import { FakeSysfs } from "../support/fakeSysfs.js";
import { startFakeJournal } from "../support/fakeJournal.js";
import { debianModulesAlias, mainlineVariantsAlias, makeModulesDir } from "../support/fixtures.js";
import { makeSimulatedHost, PF } from "../support/simulatedHost.js";
import { evaluateRules } from "../support/udevRuleEvaluator.js";
import { parseClaimFile } from "../src/config/claimConfig.js";
import { generateClaimRules } from "../src/rules/claimRules.js";
import { readVfAddresses } from "../src/sysfs/sriovLayout.js";
import { PACKAGED_RULE, ruleNodeFlags, wrapperNodeFlags } from "../support/packagedCommands.js";

const [helperBundle, simulatedBundle, simulatedHelperBundle, rulesFile] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
/**
 * The floor, and how an admin's command runs the bundle: node with the installed wrapper's
 * flags. The udev helper runs with the packaged rule's, so the benchmark times exactly what
 * udev starts.
 */
const NODE = [process.execPath, ...wrapperNodeFlags(path.resolve("."))];
const PACKAGED_RULE_FILE = path.resolve(PACKAGED_RULE);
const HELPER_NODE = [process.execPath, ...ruleNodeFlags(path.resolve("."))];
const results: Record<string, number | string | null> = {};
const notes: string[] = [];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function timed(
  command: string[],
  options: { env?: Record<string, string>; onlyThatEnv?: boolean } = {},
): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await execa(command[0] as string, command.slice(1), {
    reject: false,
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.onlyThatEnv === true ? { extendEnv: false } : {}),
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.exitCode !== 0)
    throw new Error(`${command.join(" ")} exited ${result.exitCode}: ${String(result.stderr).slice(0, 300)}`);
  return ms;
}

const PEAK_RSS = path.resolve("bench/peakRss.py");

/** One run's peak RSS in KiB, as the kernel accounts it for that process alone. */
async function peakRssKiB(command: string[], env?: Record<string, string>): Promise<number> {
  const result = await execa("python3", [PEAK_RSS, ...command], {
    reject: false,
    ...(env !== undefined ? { env } : {}),
  });
  const kib = Number(result.stdout.trim());
  if (result.exitCode !== 0 || !Number.isFinite(kib) || kib <= 0)
    throw new Error(
      `${command.join(" ")} (peak RSS) exited ${result.exitCode}: ${String(result.stderr).slice(0, 300)}`,
    );
  return kib;
}

/** Runs a and b alternately `rounds` times; returns both medians. */
async function alternate(
  rounds: number,
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<[number, number]> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    as.push(await a());
    bs.push(await b());
  }
  return [median(as), median(bs)];
}

async function entryVsFloor(): Promise<void> {
  const tree = FakeSysfs.create();
  const journal = await startFakeJournal();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-bench-"));
  try {
    tree.addDriver("vfio-pci", "vfio_pci");
    tree.addDriver("virtio_vfio_pci", "virtio_vfio_pci");
    tree.addDevice({
      address: "0000:00:03.0",
      vendor: "1af4",
      device: "1041",
      subsystemDevice: "1100",
      driver: "virtio_vfio_pci",
      iommuGroup: 3,
      vfioDev: true,
    });
    const modulesDir = makeModulesDir({ "modules.alias": `${debianModulesAlias()}\n${mainlineVariantsAlias()}` });
    const configDir = path.join(work, "config");
    fs.mkdirSync(configDir);
    fs.writeFileSync(path.join(configDir, "50-nic.conf"), "[Claim]\nAddress=0000:00:03.0\n");
    const entry = [
      ...HELPER_NODE,
      helperBundle,
      "--sysfs-root",
      tree.root,
      "--modules-dir",
      modulesDir,
      "--state-dir",
      path.join(work, "state"),
      "--config-dir",
      configDir,
      "--kmsg",
      journal.kmsg,
      "--journal-socket",
      journal.socket,
    ];
    const env = {
      ACTION: "add",
      SUBSYSTEM: "pci",
      PCI_SLOT_NAME: "0000:00:03.0",
      DEVPATH: "/devices/pci0000:00/0000:00:03.0",
    };
    // Once untimed, so that the bundle and modules.alias are in the page cache, as on a host.
    await timed(entry, { env });
    const [ours, floor] = await alternate(
      40,
      () => timed(entry, { env }),
      () => timed([...NODE, "-e", "0"]),
    );
    // udevd gives a RUN program the event's properties as its whole environment. The
    // benchmark's own may hold variables Node acts on at start-up (NODE_EXTRA_CA_CERTS makes
    // it read and parse a CA bundle: tens of ms, on both sides of the ratio above), so the
    // same pair again with nothing inherited, as udev runs it.
    const [oursUdevEnv, floorUdevEnv] = await alternate(
      40,
      () => timed(entry, { env, onlyThatEnv: true }),
      () => timed([...NODE, "-e", "0"], { env: {}, onlyThatEnv: true }),
    );
    results["entryMsMedianUdevEnv"] = round(oursUdevEnv);
    results["nodeFloorMsMedianUdevEnv"] = round(floorUdevEnv);
    results["entryVsNodeFloorRatioUdevEnv"] = round(oursUdevEnv / floorUdevEnv, 3);
    const [oursRss, floorRss] = await alternate(
      15,
      () => peakRssKiB(entry, env),
      () => peakRssKiB([...NODE, "-e", "0"]),
    );
    const decided = journal.entries.at(-1)?.message ?? "";
    if (!decided.startsWith("0000:00:03.0: already bound to virtio_vfio_pci"))
      throw new Error(`unexpected decision: ${decided}`);
    results["entryMsMedian"] = round(ours);
    results["nodeFloorMsMedian"] = round(floor);
    results["entryVsNodeFloorRatio"] = round(ours / floor, 3);
    results["entryPeakRssMiB"] = round(oursRss / 1024);
    results["nodeFloorPeakRssMiB"] = round(floorRss / 1024);
    results["entryRssVsFloorRatio"] = round(oursRss / floorRss, 3);
    fs.rmSync(modulesDir, { recursive: true, force: true });
  } finally {
    tree.remove();
    await journal.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function spawnsPerThousandUnclaimed(): void {
  const tree = FakeSysfs.create();
  try {
    // 1,000 devices of many kinds; one claim for something else entirely.
    for (let i = 0; i < 1000; i += 1) {
      const bus = (0x10 + Math.floor(i / 32)).toString(16).padStart(2, "0");
      const slot = (i % 32).toString(16).padStart(2, "0");
      tree.addDevice({
        address: `0000:${bus}:${slot}.0`,
        vendor: ["8086", "1af4", "15b3", "10de"][i % 4] as string,
        device: (0x1000 + i).toString(16),
        classCode: ["020000", "010802", "030000", "0c0330"][i % 4],
      });
    }
    // Claims for devices this host does not have, so every one of the 1,000 is unclaimed.
    const config = parseClaimFile(
      "[Claim]\nIds=15b3:a2dc\n[Claim]\nAddress=0000:ff:00.*\n",
      "/etc/vfio-autobind/50-vm.conf",
    );
    fs.writeFileSync(
      rulesFile,
      generateClaimRules(config, "bench", "/etc/vfio-autobind", (pf) => readVfAddresses(tree.root, pf)),
    );
    let spawns = 0;
    const devices = fs.readdirSync(tree.at("bus/pci/devices"));
    for (const address of devices)
      spawns += evaluateRules([PACKAGED_RULE_FILE, rulesFile], {
        kernel: address,
        subsystem: "pci",
        dir: tree.deviceDir(address),
      }).run.length;
    results["spawnsPerThousandUnclaimed"] = (spawns * 1000) / devices.length;
  } finally {
    tree.remove();
  }
}

async function burst(): Promise<void> {
  const rounds: [number, number][] = [];
  for (let round = 0; round < 3; round += 1) {
    // 257 VFs: the first one's event, untimed, warms the page cache (on a host, the first
    // event since boot does), and the other 256 are the burst.
    const host = makeSimulatedHost({ extraVfs: 255 });
    const journal = await startFakeJournal();
    const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-bench-config-"));
    try {
      fs.writeFileSync(path.join(configDir, "50-vfs.conf"), `[Claim]\nVfsOf=${PF}\n`);
      const [first, ...vfs] = fs
        .readdirSync(host.tree.at("bus/pci/devices"))
        .filter((a) => /^0000:3[bc]:/.test(a) && a !== PF);
      const event = (vf: string) =>
        timed(
          [
            ...HELPER_NODE,
            simulatedHelperBundle,
            ...host.rootArgs({ configDir, kmsg: journal.kmsg, journalSocket: journal.socket }),
          ],
          {
            env: { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: vf, DEVPATH: `/devices/pci0000:00/${vf}` },
          },
        );
      const wall = async (jobs: (() => Promise<number>)[]): Promise<number> => {
        const start = process.hrtime.bigint();
        await Promise.all(jobs.map((job) => job()));
        return Number(process.hrtime.bigint() - start) / 1e6;
      };
      await event(first as string);
      const floor = await wall(vfs.map(() => () => timed([...NODE, "-e", "0"])));
      const ours = await wall(vfs.map((vf) => () => event(vf)));
      const unbound = vfs.filter((vf) => host.kernel.boundDriver(vf) !== "mlx5_vfio_pci");
      if (vfs.length !== 256 || unbound.length > 0)
        throw new Error(`burst: ${unbound.length} of ${vfs.length} VFs not bound`);
      rounds.push([ours, floor]);
    } finally {
      host.cleanup();
      await journal.close();
      fs.rmSync(configDir, { recursive: true, force: true });
    }
  }
  const ours = median(rounds.map((r) => r[0]));
  const floor = median(rounds.map((r) => r[1]));
  results["burst256Ms"] = round(ours);
  results["burst256FloorMs"] = round(floor);
  results["burst256VsFloorRatio"] = round(ours / floor, 3);
}

/** driverctl comes from `npm run setup`; the benchmark never installs anything itself. */
const DRIVERCTL = "/usr/sbin/driverctl";

async function versusDriverctl(): Promise<void> {
  if (!fs.existsSync(DRIVERCTL)) {
    results["vsDriverctlRatio"] = null;
    notes.push(`vsDriverctlRatio skipped: ${DRIVERCTL} is not installed (npm run setup installs it)`);
    return;
  }
  // An address this machine does not have: even if the bind mount failed, driverctl would
  // find no such device under the real /sys and write nothing.
  const device = "0000:7f:1e.3";
  const host = makeSimulatedHost();
  const tree = FakeSysfs.create();
  try {
    tree.addDevice({ address: device, vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 9 });
    tree.addDriver("vfio-pci", "vfio_pci");
    fs.mkdirSync(tree.at("module/vfio-pci"), { recursive: true }); // driverctl looks for /sys/module/<driver>
    host.tree.addDevice({ address: device, vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 9 });
    await execa(process.execPath, [simulatedBundle, "bind", "--help"]); // warm the page cache
    const namespaced = (command: string) => [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      `mount --bind "$1" /sys && ${command}`,
      "sh",
      tree.root,
      device,
    ];
    const resetTree = (): void => {
      tree.writeAttribute(device, "driver_override", "(null)\n");
    };
    const ourBind = [...NODE, simulatedBundle, "bind", device, "--driver", "vfio-pci", ...host.rootArgs()];
    const ourRelease = [...NODE, simulatedBundle, "release", device, ...host.rootArgs()];
    const [ours, theirs] = await alternate(
      20,
      async () => {
        const ms = await timed(ourBind);
        await timed(ourRelease); // untimed reset
        return ms;
      },
      async () => {
        resetTree();
        return timed(namespaced('exec driverctl --nosave set-override "$2" vfio-pci'));
      },
    );
    const wrapper = median(await Promise.all([0, 1, 2, 3, 4].map(() => timed(namespaced("true")))));
    results["oursBindMsMedian"] = round(ours);
    results["driverctlMsMedian"] = round(theirs);
    results["driverctlNamespaceWrapperMs"] = round(wrapper);
    results["vsDriverctlRatio"] = round(ours / theirs, 3);
  } finally {
    tree.remove();
    host.cleanup();
  }
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

async function main(): Promise<void> {
  await entryVsFloor();
  spawnsPerThousandUnclaimed();
  await burst();
  await versusDriverctl();
  process.stdout.write(`${JSON.stringify({ results, notes })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
