/**
 * The driverctl comparison booted the Debian way: the same
 * initramfs-tools root with our package and Debian's driverctl, 8 virtio-net, root on a
 * virtio-blk, so virtio_pci loads in the initramfs. One image claims the 8 with
 * `vfio-autobind claim --driver vfio-pci`, the other has driverctl's overrides for them.
 * These tests check what each boot did, from the kernel's own log; the times are judged
 * nowhere here (bench/vmResults.mjs copies report.comparison into bench/results.json, whose
 * table checks the target).
 */
import { expect, it } from "vitest";
import { COMPARE_DRIVER } from "../shared/driverctlCompare.js";
import { compareAddresses, compareDevices } from "./shared/bootMachine.js";
import { ueventsMissingFromKernelLog } from "./shared/kernelLog.js";
import { toolLines } from "./shared/bootProtocol.js";
import { bootReport, bootResult, describeBoot, hostDriverBuiltIn } from "./bootReport.js";
import { COMPARISON_BOOTS } from "./host/comparisonFigures.js";
import type { BootRecord } from "./host/bootReport.js";

const driversAtEnd = (boot: BootRecord): Record<string, string | null | undefined> =>
  Object.fromEntries(compareAddresses.map((a) => [a, boot.observation?.devices.find((d) => d.address === a)?.driver]));
const allOnVfio = Object.fromEntries(compareAddresses.map((a) => [a, COMPARE_DRIVER]));
const bindsOf = (boot: BootRecord, address: string): string[] =>
  boot.kernelBinds.filter((b) => b.address === address).map((b) => b.driver);

describeBoot("comparison boot with our claim (initramfs-tools)", () => {
  const boot = bootResult(COMPARISON_BOOTS.ours);

  it("records every bind: the kernel log misses no bind uevent", () => {
    expect(boot().kernelBinds.some((b) => b.address === compareDevices.rootDisk.address)).toBe(true);
    expect(ueventsMissingFromKernelLog(boot().kernelBinds, boot().bindUevents)).toEqual([]);
  });

  it.runIf(!hostDriverBuiltIn(compareDevices.rootDisk))(
    "each of the 8 was bound once, to vfio-pci, and never met virtio-pci",
    () => {
      for (const address of compareAddresses) expect(bindsOf(boot(), address), address).toEqual([COMPARE_DRIVER]);
      expect(driversAtEnd(boot())).toEqual(allOnVfio);
      expect(boot().hostBindsOfClaimed).toEqual([]);
    },
  );

  it.runIf(hostDriverBuiltIn(compareDevices.rootDisk))(
    "virtio_pci is built in: each of the 8 met it at boot, as with driverctl, and ended on vfio-pci",
    () => {
      for (const address of compareAddresses)
        expect(bindsOf(boot(), address), address).toEqual(["virtio-pci", COMPARE_DRIVER]);
      expect(driversAtEnd(boot())).toEqual(allOnVfio);
    },
  );

  it("the udev rules made the binds (the helper, from a built-in virtio-pci), and the helper recorded them", () => {
    const lines = toolLines(boot().observation?.toolJournal ?? []);
    const how = hostDriverBuiltIn(compareDevices.rootDisk) ? "taken from virtio-pci" : "by the udev rules";
    for (const address of compareAddresses)
      expect(
        lines.some((l) => l.startsWith(`${address}: `) && l.includes(how)),
        `${address}\n${lines.join("\n")}`,
      ).toBe(true);
  });
});

describeBoot("comparison boot with driverctl's overrides (initramfs-tools)", () => {
  const boot = bootResult(COMPARISON_BOOTS.driverctl);

  it("records every bind: the kernel log misses no bind uevent", () => {
    expect(ueventsMissingFromKernelLog(boot().kernelBinds, boot().bindUevents)).toEqual([]);
  });

  it("driverctl took each of the 8 from virtio-pci to vfio-pci; our package, claiming nothing, touched none", () => {
    for (const address of compareAddresses)
      expect(bindsOf(boot(), address), address).toEqual(["virtio-pci", COMPARE_DRIVER]);
    expect(driversAtEnd(boot())).toEqual(allOnVfio);
    expect(toolLines(boot().observation?.toolJournal ?? []).filter((l) => /^0000:/.test(l))).toEqual([]);
  });
});

describeBoot("comparison figures", () => {
  it("are in the report, from both boots", () => {
    const figures = bootReport?.comparison;
    console.info(`driverctl comparison, booted the Debian way: ${JSON.stringify(figures)}`);
    expect(figures?.bootToBoundOursMs).toBeGreaterThan(0);
    expect(figures?.bootToBoundDriverctlMs).toBeGreaterThan(0);
    expect(figures?.bootToBoundVsDriverctlRatio).toBeGreaterThan(0);
    expect(figures?.bootHostBindsOurs).toBe(hostDriverBuiltIn(compareDevices.rootDisk) ? compareAddresses.length : 0);
    expect(figures?.bootHostBindsDriverctl).toBe(compareAddresses.length);
  });
});
