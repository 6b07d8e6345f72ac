/**
 * The gap the holds close, made visible: the same disk booted with `vfio_autobind.hold=0`.
 * The counts are in the report (counts.gap); here they must show what the holds prevent,
 * against 0 in the boots with holds.
 */
import { expect, it } from "vitest";
import { devices, vmxnetClaimed } from "./shared/bootMachine.js";
import { bootReport, bootResult, describeBoot } from "./bootReport.js";

describeBoot("boot gap (vfio_autobind.hold=0)", () => {
  const boot = bootResult("gap");
  const hostBindCount = (address: string): number =>
    boot().hostBindsOfClaimed.filter((b) => b.address === address).length;

  it("the switch turned the holds off", () => {
    expect(boot().observation?.cmdline).toContain("vfio_autobind.hold=0");
  });

  it("(a) without holds, virtio_pci in the initramfs takes the claimed virtio-net", () => {
    expect(hostBindCount(devices.netClaimed.address)).toBeGreaterThan(0);
  });

  it("(c) without holds, vmxnet3, loaded in the real root, takes the claimed siblings", () => {
    for (const address of vmxnetClaimed)
      expect(
        boot()
          .hostBindsOfClaimed.filter((b) => b.address === address)
          .map((b) => b.driver),
        address,
      ).toEqual(["vmxnet3"]);
  });

  it("the counts are in the report: (a) and (c) with and without holds", () => {
    const counts = bootReport?.counts ?? {};
    const gap = counts["gap"] ?? {};
    console.info(`host binds of claimed devices per boot: ${JSON.stringify(counts, null, 2)}`);
    expect(Object.keys(gap)).toContain(`netClaimed ${devices.netClaimed.address}`);
    for (const address of vmxnetClaimed) expect(Object.keys(gap).some((k) => k.endsWith(address))).toBe(true);
  });
});
