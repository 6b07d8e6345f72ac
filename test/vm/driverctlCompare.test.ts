/**
 * The driverctl comparison: that the measurements exist and that every
 * device ended on vfio-pci, with each tool, in every round and at both boots. The times
 * themselves are judged nowhere here: their targets are checked in the benchmark report
 * (bench/vmResults.mjs, then `npm run bench`'s table).
 */
import { expect, it } from "vitest";
import {
  compareAddresses,
  COMPARE_DRIVER,
  oneDeviceAddress,
  ROUNDS,
  type BootToBound,
  type DriverctlBootResult,
  type DriverctlCompareResult,
} from "./shared/driverctlCompare.js";
import { describeVm, scenarioResult, vmReport } from "./scenarioReport.js";

const allOnVfio = Object.fromEntries(compareAddresses.map((a) => [a, COMPARE_DRIVER]));

function expectBootMeasured(boot: BootToBound): void {
  expect(boot.drivers).toEqual(allOnVfio);
  // dyndbg printed the binds: every device's last bind was to vfio-pci.
  for (const address of compareAddresses) {
    const binds = boot.binds.filter((b) => b.address === address);
    expect(binds.at(-1)?.driver, address).toBe(COMPARE_DRIVER);
  }
  expect(boot.lastBindSeconds).toBeGreaterThan(0);
}

describeVm("driverctl comparison: the boot with our claim, then the alternating rounds", () => {
  const result = scenarioResult<DriverctlCompareResult>("driverctl-compare");

  it("at boot, our claim took all 8 devices to vfio-pci, and the kernel logged when", () => {
    expectBootMeasured(result.bootToBound);
  });

  it("booted with the very rules `claim` writes in the running guest, which the rounds then use", () => {
    expect(result.claimRulesDifferFromBoot).toBeNull();
  });

  it("ran at least ROUNDS rounds per tool and case, alternating ours and driverctl", () => {
    for (const many of [true, false]) {
      const tools = result.rounds.filter((r) => r.devices.length > 1 === many).map((r) => r.tool);
      expect(tools.filter((t) => t === "ours").length).toBeGreaterThanOrEqual(ROUNDS);
      expect(tools.filter((t) => t === "driverctl").length).toBeGreaterThanOrEqual(ROUNDS);
      tools.forEach((tool, n) => expect(tool).toBe(n % 2 === 0 ? "ours" : "driverctl"));
    }
  });

  it("every round started from devices with no driver and no override, and triggered the devices it timed", () => {
    for (const round of result.rounds) {
      expect(round.devices).toEqual(round.devices.length > 1 ? compareAddresses : [oneDeviceAddress]);
      for (const device of round.before)
        expect({ ...device }).toEqual({ address: device.address, driver: null, override: null });
    }
  });

  it("every round ended with every device on vfio-pci, and has a time", () => {
    for (const round of result.rounds) {
      expect(round.drivers, `${round.tool} x${round.devices.length}`).toEqual(
        Object.fromEntries(round.devices.map((a) => [a, COMPARE_DRIVER])),
      );
      expect(round.seconds).toBeGreaterThan(0);
    }
  });

  it("measured the floors in the same guest", () => {
    for (const floor of Object.values(result.floors)) {
      expect(floor.exitCodes.length).toBeGreaterThanOrEqual(3);
      expect(
        floor.exitCodes.every((code) => code === 0),
        floor.command.join(" "),
      ).toBe(true);
    }
  });

  it("reports every bench key", () => {
    const figures = vmReport?.driverctl?.figures;
    expect(figures).toBeDefined();
    for (const [key, value] of Object.entries(figures ?? {})) expect(value, key).toBeGreaterThan(0);
  });
});

describeVm("driverctl comparison: the boot with driverctl's files", () => {
  const result = scenarioResult<DriverctlBootResult>("driverctl-boot");

  it("at boot, driverctl took all 8 devices to vfio-pci, and the kernel logged when", () => {
    expectBootMeasured(result.bootToBound);
  });
});
