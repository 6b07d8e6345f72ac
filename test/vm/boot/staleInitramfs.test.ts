/**
 * (d) claims changed after the initramfs was built: `status` (and `check`) say the
 * initramfs is stale and name the command that refreshes it; after `update-initramfs -u` in
 * the guest, the next boot (the new initramfs read back out of the image) holds the newly
 * claimed device from the first moment too.
 */
import { expect, it } from "vitest";
import { devices, fixtures } from "./shared/bootMachine.js";
import { bootResult, describeBoot, expectTakenFromBuiltIn, hostDriverBuiltIn } from "./bootReport.js";
import type { GuestCommand } from "./shared/bootProtocol.js";

describeBoot("boot stale (claims changed in the guest)", () => {
  const boot = bootResult("stale");
  const actions = (): readonly GuestCommand[] => boot().observation?.actions ?? [];
  const output = (i: number): string => `${actions()[i]?.stdout ?? ""}${actions()[i]?.stderr ?? ""}`;

  it("claimed the new device and refreshed the initramfs", () => {
    expect(actions().map((a) => a.argv.join(" "))).toEqual([
      `vfio-autobind claim ${devices.netLate.address} --now`,
      "vfio-autobind status",
      "vfio-autobind check",
      "update-initramfs -u",
      "vfio-autobind status",
      "vfio-autobind check",
      "sync",
    ]);
    expect(actions()[0]?.exitCode).toBe(0);
    expect(actions()[3]?.exitCode).toBe(0);
  });

  it("status and check say the initramfs is stale and how to refresh it, before the refresh only", () => {
    for (const before of [output(1), output(2)]) {
      expect(before).toMatch(/the initramfs of \S+ holds/);
      expect(before).toContain("update-initramfs -u");
    }
    for (const after of [output(4), output(5)]) expect(after).not.toContain("update-initramfs -u");
  });
});

describeBoot("boot refreshed (the new initramfs)", () => {
  const boot = bootResult("refreshed");
  const driverOf = (address: string): string | null | undefined =>
    boot().observation?.devices.find((d) => d.address === address)?.driver;

  it.runIf(hostDriverBuiltIn(devices.netClaimed))(
    "(a) virtio_pci is built in: the old and the newly claimed virtio-net are taken from it to their most specific variant",
    () => {
      for (const device of [devices.netClaimed, devices.netLate])
        expectTakenFromBuiltIn(boot(), device, fixtures.subsys.driver);
    },
  );

  it.runIf(!hostDriverBuiltIn(devices.netClaimed))(
    "(a) holds for the old and the newly claimed virtio-net: 0 host binds, most specific variant",
    () => {
      for (const address of [devices.netClaimed.address, devices.netLate.address]) {
        expect(
          boot().hostBindsOfClaimed.filter((b) => b.address === address),
          address,
        ).toEqual([]);
        expect(driverOf(address), address).toBe(fixtures.subsys.driver);
      }
    },
  );
});
