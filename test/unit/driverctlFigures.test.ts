/**
 * The pure parts of the real-kernel driverctl comparison (test/vm/shared/driverctlCompare.ts,
 * test/vm/host/driverctlFigures.ts): reading binds from kernel log records, the claim the
 * comparison boot starts with, and the figures computed from rounds; and the boot suite's
 * comparison figures (test/vm/boot/host/comparisonFigures.ts).
 */
import { describe, expect, it } from "vitest";
import { mergeClaimFiles } from "../../src/config/claimConfig.js";
import { claimFileName, claimFileText } from "../../src/config/claimWriter.js";
import { generateClaimRules } from "../../src/rules/claimRules.js";
import {
  bindsIn,
  compareAddresses,
  compareClaimRequest,
  parseKmsgRecord,
  type DriverctlBootResult,
  type DriverctlCompareResult,
  type FloorRuns,
  type TriggerRound,
} from "../vm/shared/driverctlCompare.js";
import { compareDevices, compareRootPorts } from "../vm/shared/machineLayout.js";
import { compareAddresses as bootCompareAddresses } from "../vm/boot/shared/bootMachine.js";
import type { Bind } from "../vm/boot/shared/kernelLog.js";
import { COMPARISON_BOOTS, comparisonFigures, type ComparedBoot } from "../vm/boot/host/comparisonFigures.js";
import { driverctlFigures, median } from "../vm/host/driverctlFigures.js";

describe("kernel log records", () => {
  it("reads the time stamp and text of a /dev/kmsg record, dictionary lines aside", () => {
    expect(
      parseKmsgRecord(
        "7,1234,27345678,-;driver: 'vfio-pci': driver_bound: bound to device '0000:01:00.0'\n SUBSYSTEM=pci\n",
      ),
    ).toEqual([27.345678, "driver: 'vfio-pci': driver_bound: bound to device '0000:01:00.0'"]);
    expect(parseKmsgRecord("7,1,2,-,caller=T1;x")).toEqual([0.000002, "x"]);
    expect(parseKmsgRecord("no separator")).toBeNull();
    expect(parseKmsgRecord("7,1,notanumber,-;x")).toBeNull();
  });

  it("finds the binds of the given devices in 6.1's form and the later dev_dbg form, in log order", () => {
    const records: [number, string][] = [
      [1.5, "driver: 'virtio-pci': driver_bound: bound to device '0000:01:00.0'"],
      [1.6, "bus: 'pci': really_probe: bound device 0000:01:00.0 to driver virtio-pci"],
      [2.0, "driver: 'vfio-pci': driver_bound: bound to device '0000:09:00.0'"],
      [3.25, "pci 0000:01:00.0: driver: 'vfio-pci': driver_bound: bound to device"],
      [4.0, "driver: 'vfio-pci': driver_bound: bound to device '0000:01:00.0' and more"],
    ];
    expect(bindsIn(records, ["0000:01:00.0"])).toEqual([
      { address: "0000:01:00.0", driver: "virtio-pci", seconds: 1.5 },
      { address: "0000:01:00.0", driver: "vfio-pci", seconds: 3.25 },
    ]);
  });
});

describe("the comparison machine and its claim", () => {
  it("puts each of the 8 devices behind its own root port, on buses 1 to 8", () => {
    expect(compareAddresses).toEqual(Array.from({ length: 8 }, (_, n) => `0000:0${n + 1}:00.0`));
    expect(new Set(compareRootPorts.map((p) => p.address)).size).toBe(8);
    compareDevices.forEach((d, n) => expect(d.qemuArgs.join(" ")).toContain(`bus=${compareRootPorts[n]?.id}`));
  });

  it("claims exactly the 8 devices, pinned to vfio-pci, in the file `claim` writes", () => {
    const name = claimFileName(compareClaimRequest);
    const config = mergeClaimFiles([{ name: `/etc/vfio-autobind/${name}`, text: claimFileText(compareClaimRequest) }]);
    expect(config.errors).toEqual([]);
    expect(config.claims).toHaveLength(1);
    expect(config.claims[0]?.driver).toBe("vfio-pci");
    const rules = generateClaimRules(config, "digest0", "/etc/vfio-autobind", () => null);
    for (const address of compareAddresses) expect(rules).toContain(address);
  });
});

const round = (tool: TriggerRound["tool"], devices: number, seconds: number | null): TriggerRound => ({
  tool,
  devices: compareAddresses.slice(0, devices),
  seconds,
  boundAfter: {},
  drivers: {},
  triggerSeconds: 0.01,
  before: [],
});
const floorRuns = (seconds: number[], exitCodes = seconds.map(() => 0)): FloorRuns => ({
  command: ["x"],
  seconds,
  exitCodes,
});
const bootOf = (lastBindSeconds: number | null) => ({
  boot: "compare-ours" as const,
  binds: [],
  lastBindSeconds,
  drivers: {},
  kernelRecords: 1,
  holdLines: [],
});

function compareResult(rounds: TriggerRound[], systemdRun = floorRuns([0.3, 0.2, 0.4])): DriverctlCompareResult {
  return {
    bootToBound: bootOf(30),
    claimRulesDifferFromBoot: null,
    rounds,
    floors: { nodeJitless: floorRuns([1.4, 1.3, 1.5]), bash: floorRuns([0.05, 0.06, 0.04]), systemdRun },
    driverctlVersion: "0.111-1",
    journals: { tool: [], driverctl: [], boot: [] },
  };
}
const driverctlBoot: DriverctlBootResult = { bootToBound: bootOf(20), journals: { tool: [], driverctl: [], boot: [] } };

describe("driverctlFigures", () => {
  it("medians per tool and case, ratios of ours over driverctl's, milliseconds", () => {
    const rounds = [
      round("ours", 8, 3),
      round("ours", 1, 1),
      round("driverctl", 8, 2),
      round("driverctl", 1, 0.5),
      round("ours", 8, 5),
      round("ours", 1, 2),
      round("driverctl", 8, 1),
      round("driverctl", 1, 0.25),
      round("ours", 8, 4),
      round("ours", 1, 3),
      round("driverctl", 8, 4),
      round("driverctl", 1, 1),
    ];
    expect(driverctlFigures(compareResult(rounds), driverctlBoot)).toEqual({
      e2eTriggerVsDriverctlRatio: 2,
      e2eOneDeviceVsDriverctlRatio: 4,
      bootToBoundRdinitVsDriverctlRatio: 1.5,
      e2eTriggerOursMsMedian: 4000,
      e2eTriggerDriverctlMsMedian: 2000,
      e2eOneDeviceOursMsMedian: 2000,
      e2eOneDeviceDriverctlMsMedian: 500,
      bootToBoundRdinitOursMs: 30000,
      bootToBoundRdinitDriverctlMs: 20000,
      guestNodeJitlessMsMedian: 1400,
      guestBashMsMedian: 50,
      guestSystemdRunMsMedian: 300,
      e2eRoundsPerTool: 3,
    });
  });

  it("gives no figure rather than a flattering one when a round timed out, a floor failed or a boot never bound", () => {
    const rounds = [round("ours", 8, null), round("ours", 1, 1), round("driverctl", 8, 2), round("driverctl", 1, 1)];
    const figures = driverctlFigures(compareResult(rounds, floorRuns([0.3, 0.2], [0, 1])), {
      bootToBound: bootOf(null),
      journals: { tool: [], driverctl: [], boot: [] },
    });
    expect(figures.e2eTriggerOursMsMedian).toBeNull();
    expect(figures.e2eTriggerVsDriverctlRatio).toBeNull();
    expect(figures.e2eOneDeviceVsDriverctlRatio).toBe(1);
    expect(figures.guestSystemdRunMsMedian).toBeNull();
    expect(figures.bootToBoundRdinitVsDriverctlRatio).toBeNull();
    expect(figures.e2eRoundsPerTool).toBe(1);
  });

  it("median of odd and even counts, and of nothing", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});

describe("the comparison booted the Debian way (boot suite)", () => {
  const bootWith = (name: string, binds: Bind[], drivers: Record<string, string | null>): ComparedBoot => ({
    name,
    kernelBinds: binds,
    observation: { devices: Object.entries(drivers).map(([address, driver]) => ({ address, driver })) },
  });
  const vfio =
    (time: number) =>
    (address: string, n: number): Bind => ({ address, driver: "vfio-pci", time: time + n });
  const allOn = (driver: string | null) => Object.fromEntries(bootCompareAddresses.map((a) => [a, driver]));
  const ours = bootWith(COMPARISON_BOOTS.ours, bootCompareAddresses.map(vfio(10)), allOn("vfio-pci"));
  const driverctl = bootWith(
    COMPARISON_BOOTS.driverctl,
    [
      ...bootCompareAddresses.map((address): Bind => ({ address, driver: "virtio-pci", time: 5 })),
      ...bootCompareAddresses.map(vfio(20)),
    ],
    allOn("vfio-pci"),
  );

  it("times each boot by the last of the 8 binds to vfio-pci, and counts the host binds", () => {
    expect(comparisonFigures([ours, driverctl])).toEqual({
      bootToBoundVsDriverctlRatio: 0.63,
      bootToBoundOursMs: 17000,
      bootToBoundDriverctlMs: 27000,
      bootHostBindsOurs: 0,
      bootHostBindsDriverctl: 8,
    });
  });

  it("gives no time when a device's last bind is not vfio-pci, it left vfio-pci, or a bind has no time stamp", () => {
    const [first, second, third] = bootCompareAddresses as [string, string, string];
    const lastToHost = bootWith(
      COMPARISON_BOOTS.ours,
      [...bootCompareAddresses.map(vfio(10)), { address: first, driver: "virtio-pci", time: 30 }],
      { ...allOn("vfio-pci"), [first]: "virtio-pci" },
    );
    const leftVfio = bootWith(COMPARISON_BOOTS.ours, bootCompareAddresses.map(vfio(10)), {
      ...allOn("vfio-pci"),
      [second]: null,
    });
    const noTime = bootWith(
      COMPARISON_BOOTS.ours,
      bootCompareAddresses.map((address, n) => ({ address, driver: "vfio-pci", time: address === third ? null : n })),
      allOn("vfio-pci"),
    );
    for (const boot of [lastToHost, leftVfio, noTime]) {
      const figures = comparisonFigures([boot, driverctl]);
      expect(figures.bootToBoundOursMs).toBeNull();
      expect(figures.bootToBoundVsDriverctlRatio).toBeNull();
      expect(figures.bootToBoundDriverctlMs).toBe(27000);
    }
    expect(comparisonFigures([lastToHost, driverctl]).bootHostBindsOurs).toBe(1);
  });

  it("gives nulls for a boot that did not run or sent nothing", () => {
    expect(comparisonFigures([{ ...ours, observation: null }])).toEqual({
      bootToBoundVsDriverctlRatio: null,
      bootToBoundOursMs: null,
      bootToBoundDriverctlMs: null,
      bootHostBindsOurs: null,
      bootHostBindsDriverctl: null,
    });
  });
});
