/**
 * (a) initramfs hold, (c) the sibling race in the real root, (f) the built-in NVMe: the
 * initramfs-tools root, booted three times from the same disk. Every bind of every device
 * comes from the kernel's own log (dd.c's driver_bound), checked against udev's bind uevents.
 */
import { expect, it } from "vitest";
import { devices, fixtures, vmxnetClaimed, vmxnetUnclaimed } from "./shared/bootMachine.js";
import { ueventsMissingFromKernelLog } from "./shared/kernelLog.js";
import { toolLines } from "./shared/bootProtocol.js";
import { bootResult, describeBootOf, expectTakenFromBuiltIn, hostDriverBuiltIn } from "./bootReport.js";
import type { BootRecord } from "./host/bootReport.js";

const BOOTS = ["holds-1", "holds-2", "holds-3"];

const driverOf = (boot: BootRecord, address: string): string | null | undefined =>
  boot.observation?.devices.find((d) => d.address === address)?.driver;

const hostBindsOf = (boot: BootRecord, address: string): string[] =>
  boot.hostBindsOfClaimed.filter((b) => b.address === address).map((b) => `${b.driver} at ${b.time ?? "?"} s`);

for (const name of BOOTS) {
  describeBootOf(name)(`boot ${name} (initramfs-tools, MODULES=most)`, () => {
    const boot = bootResult(name);

    it("records every bind from the first moment: the kernel log misses no bind uevent", () => {
      expect(boot().kernelBinds.length).toBeGreaterThan(0);
      // The root disk's virtio-pci bind happens in the initramfs, before the real root.
      expect(boot().kernelBinds.some((b) => b.address === devices.rootDisk.address)).toBe(true);
      expect(boot().bindUevents.length).toBeGreaterThan(0);
      expect(ueventsMissingFromKernelLog(boot().kernelBinds, boot().bindUevents)).toEqual([]);
    });

    it.runIf(!hostDriverBuiltIn(devices.netClaimed))(
      "(a) the initramfs held the claimed virtio-net before virtio_pci bound the root disk",
      () => {
        const lines = boot().observation?.kernelLog ?? [];
        const holdAt = lines.findIndex((l) => l.includes("vfio-autobind:") && l.includes(devices.netClaimed.address));
        const rootBoundAt = lines.findIndex((l) => l.includes("driver_bound") && l.includes(devices.rootDisk.address));
        expect(holdAt, "no hold line for the claimed virtio-net in the kernel log").toBeGreaterThanOrEqual(0);
        expect(holdAt).toBeLessThan(rootBoundAt);
      },
    );

    it.runIf(!hostDriverBuiltIn(devices.netClaimed))(
      "(a) the claimed virtio-net meets no host driver and ends on its most specific variant",
      () => {
        expect(hostBindsOf(boot(), devices.netClaimed.address)).toEqual([]);
        expect(driverOf(boot(), devices.netClaimed.address)).toBe(fixtures.subsys.driver);
      },
    );

    it.runIf(hostDriverBuiltIn(devices.netClaimed))(
      "(a) virtio_pci is built in: it binds the claimed virtio-net before any hold exists; the helper takes it from virtio-pci to its most specific variant",
      () => expectTakenFromBuiltIn(boot(), devices.netClaimed, fixtures.subsys.driver),
    );

    it("(a) the unclaimed devices end on their host drivers", () => {
      for (const device of [devices.rootDisk, devices.netLate, devices.ide])
        expect(driverOf(boot(), device.address), device.address).toBe(device.hostDriver);
      for (const address of vmxnetUnclaimed) expect(driverOf(boot(), address), address).toBe("vmxnet3");
    });

    it("(c) the claimed vmxnet3 siblings, held from the initramfs, meet no host driver though their module loads in the root", () => {
      const log = boot().observation?.kernelLog ?? [];
      for (const address of vmxnetClaimed) {
        expect(
          log.some((l) => l.includes(`vfio-autobind: holding ${address}`)),
          address,
        ).toBe(true);
        expect(hostBindsOf(boot(), address), address).toEqual([]);
        expect(driverOf(boot(), address), address).toBe("vfio-pci");
      }
    });

    it("(c) the helper found each claimed vmxnet3 on vfio-pci by the rules, and refused none", () => {
      // The claims rules also run in the initramfs (Debian's udev hook copies them there),
      // which lacks vfio_pci: they must leave the device held, not with an override that
      // the real root would take for someone else's.
      for (const address of vmxnetClaimed) {
        const lines = toolLines(boot().observation?.toolJournal ?? []).filter((l) => l.startsWith(`${address}: `));
        expect(lines, address).toHaveLength(1);
        expect(lines[0], address).toMatch(/: (bound to vfio-pci by the udev rules|already bound to vfio-pci)/);
      }
    });

    it("(f) the built-in NVMe is taken from nvme, said so, and ends on vfio-pci", () => {
      const address = devices.nvme.address;
      expectTakenFromBuiltIn(boot(), devices.nvme, "vfio-pci");
      // status: the record says what it was taken from (the WAS column; originalDriver in --json).
      const status = JSON.parse(boot().observation?.statusJson.stdout ?? "{}") as {
        devices?: { address: string; originalDriver: string | null; now: string | null; state: string }[];
      };
      expect(status.devices?.find((d) => d.address === address)).toMatchObject({
        originalDriver: "nvme",
        now: "vfio-pci",
        state: "bound",
      });
    });
  });
}
