/**
 * (b) the same boot with Debian's dracut (a generic build) in place of initramfs-tools. A
 * dracut initramfs loads virtio_pci before any hook (kernel-facts.md), so the claimed
 * device here is a non-virtio storage controller, PIIX IDE, whose module (ata_piix) the
 * initramfs carries; boot dracut-gap shows ata_piix taking it there when nothing holds it.
 */
import { expect, it } from "vitest";
import { devices } from "./shared/bootMachine.js";
import { ueventsMissingFromKernelLog } from "./shared/kernelLog.js";
import { bootReport, bootResult, describeBootOf } from "./bootReport.js";

describeBootOf("dracut")("boot dracut (generic dracut initramfs)", () => {
  const boot = bootResult("dracut");
  const driverOf = (address: string): string | null | undefined =>
    boot().observation?.devices.find((d) => d.address === address)?.driver;

  it("was built by dracut in the image build, with our dracut module and ata_piix in the initramfs", () => {
    const image = bootReport?.images.find((i) => i.name === "dracut");
    expect(image?.initramfsFiles.some((f) => f.includes("vfio-autobind"))).toBe(true);
    expect(image?.initramfsFiles.some((f) => f.includes("ata_piix"))).toBe(true);
  });

  it("records every bind: the kernel log misses no bind uevent", () => {
    expect(boot().kernelBinds.some((b) => b.address === devices.rootDisk.address)).toBe(true);
    expect(ueventsMissingFromKernelLog(boot().kernelBinds, boot().bindUevents)).toEqual([]);
  });

  it("the dracut pre-udev hook held the IDE controller in the initramfs", () => {
    const lines = boot().observation?.kernelLog ?? [];
    expect(lines.some((l) => l.includes("vfio-autobind: holding") && l.includes(devices.ide.address))).toBe(true);
  });

  it("the claimed IDE controller meets no host driver and ends on vfio-pci", () => {
    expect(boot().hostBindsOfClaimed).toEqual([]);
    expect(driverOf(devices.ide.address)).toBe("vfio-pci");
  });

  it("the unclaimed virtio devices end on their host drivers", () => {
    for (const device of [devices.rootDisk, devices.netClaimed, devices.netLate])
      expect(driverOf(device.address), device.address).toBe(device.hostDriver);
  });
});

describeBootOf("dracut-gap")("boot dracut-gap (dracut, vfio_autobind.hold=0)", () => {
  const boot = bootResult("dracut-gap");

  it("without the hold, ata_piix takes the claimed IDE controller", () => {
    expect(boot().hostBindsOfClaimed.map((b) => b.driver)).toContain(devices.ide.hostDriver);
  });
});
