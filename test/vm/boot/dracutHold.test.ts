/**
 * (b) the same boot with Debian's dracut (a generic build) in place of initramfs-tools. A
 * dracut initramfs loads virtio_pci before any hook (kernel-facts.md), so the claimed
 * device here is a non-virtio storage controller whose module the initramfs carries.
 */
import { expect, it } from "vitest";
import { devices } from "./shared/bootMachine.js";
import { ueventsMissingFromKernelLog } from "./shared/kernelLog.js";
import { bootReport, bootResult, describeBoot } from "./bootReport.js";

describeBoot("boot dracut (generic dracut initramfs)", () => {
  const boot = bootResult("dracut");
  const driverOf = (address: string): string | null | undefined =>
    boot.observation?.devices.find((d) => d.address === address)?.driver;

  it("was built by dracut, with our dracut module and vmw_pvscsi in the initramfs", () => {
    const image = bootReport?.images.find((i) => i.flavour === "dracut");
    expect(image?.initramfsFiles.some((f) => f.includes("vfio-autobind"))).toBe(true);
  });

  it("records every bind: the kernel log misses no bind uevent", () => {
    expect(boot.kernelBinds.some((b) => b.address === devices.rootDisk.address)).toBe(true);
    expect(ueventsMissingFromKernelLog(boot.kernelBinds, boot.bindUevents)).toEqual([]);
  });

  it("the claimed pvscsi controller meets no host driver and ends on vfio-pci", () => {
    expect(boot.hostBindsOfClaimed).toEqual([]);
    expect(driverOf(devices.scsiClaimed.address)).toBe("vfio-pci");
  });

  it("its unclaimed twin and the virtio devices end on their host drivers", () => {
    // The twin proves vmw_pvscsi was loaded and probing while the claimed one was held.
    expect(boot.kernelBinds.some((b) => b.address === devices.scsiUnclaimed.address && b.driver === "vmw_pvscsi")).toBe(
      true,
    );
    for (const device of [devices.scsiUnclaimed, devices.rootDisk, devices.netClaimed, devices.netLate])
      expect(driverOf(device.address), device.address).toBe(device.hostDriver);
  });
});
