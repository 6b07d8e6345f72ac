/**
 * The boot suite's machine and what each root claims: one layout for every boot, so that
 * a device keeps its address from boot to boot and from root to root. Every device sits
 * on the root complex (pcie.0) at a fixed slot; the claims name devices by address, since
 * siblings share their ids.
 */

export type RootFlavour = "initramfs-tools" | "dracut";

export interface BootDevice {
  readonly address: string;
  /** QEMU `-device` argument, without the `addr=` this layout adds. */
  readonly qemu: string;
  /** The host driver the device ends on when nobody claims it (its PCI driver name). */
  readonly hostDriver: string;
}

const slot = (n: number): string => `0000:00:${n.toString(16).padStart(2, "0")}.0`;

/** The root file system: an unclaimed modern virtio-blk, so virtio_pci loads in the initramfs. */
export const rootDisk: BootDevice = {
  address: slot(2),
  qemu: "virtio-blk-pci,disable-legacy=on,drive=root",
  hostDriver: "virtio-pci",
};

export const devices = {
  rootDisk,
  /** (a): claimed; the fixture's subsystem variant (4 `*`) is its most specific driver. */
  netClaimed: { address: slot(3), qemu: "virtio-net-pci,disable-legacy=on", hostDriver: "virtio-pci" },
  /** (a): unclaimed beside it; (d) claims it in the guest after the initramfs was built. */
  netLate: { address: slot(4), qemu: "virtio-net-pci,disable-legacy=on", hostDriver: "virtio-pci" },
  /** (e): claimed, pinned to the subsystem variant, whose probe fails when fail_probe=1. */
  netPinned: { address: slot(5), qemu: "virtio-net-pci,disable-legacy=on", hostDriver: "virtio-pci" },
  /** (f): the cloud kernel's nvme is built in: probed in device_add(), before any userspace. */
  nvme: { address: slot(6), qemu: "nvme,serial=vmboot-nvme", hostDriver: "nvme" },
  /** (c): four vmxnet3 NICs, the module left out of the initramfs; 07 and 09 claimed. */
  vmxnet1: { address: slot(7), qemu: "vmxnet3", hostDriver: "vmxnet3" },
  vmxnet2: { address: slot(8), qemu: "vmxnet3", hostDriver: "vmxnet3" },
  vmxnet3: { address: slot(9), qemu: "vmxnet3", hostDriver: "vmxnet3" },
  vmxnet4: { address: slot(10), qemu: "vmxnet3", hostDriver: "vmxnet3" },
  /**
   * (b): a non-virtio storage controller whose module (ata_piix) a generic dracut
   * initramfs carries. Not pvscsi: vmw_pvscsi oopses in its interrupt handler under QEMU's
   * IOMMU. One only: PIIX IDE sits at the legacy ports.
   */
  ide: { address: slot(11), qemu: "piix3-ide", hostDriver: "ata_piix" },
} as const satisfies Record<string, BootDevice>;

export const vmxnetClaimed = [devices.vmxnet1.address, devices.vmxnet3.address];
export const vmxnetUnclaimed = [devices.vmxnet2.address, devices.vmxnet4.address];

/** The fixture variant drivers (test/vm/fixtures), installed under updates/. */
export const fixtures = {
  subsys: { module: "fixture_vfio_virtio_subsys", driver: "fixture-vfio-virtio-subsys" },
  device: { module: "fixture_vfio_virtio", driver: "fixture-vfio-virtio" },
} as const;

/** PCI driver names of the VFIO family in this guest: any other bind of a claimed device is a host bind. */
export const vfioDrivers: readonly string[] = ["vfio-pci", fixtures.subsys.driver, fixtures.device.driver];

/** `vfio-autobind claim` argument vectors run in the image build's chroot, per root. */
export const imageClaims: Readonly<Record<RootFlavour, readonly (readonly string[])[]>> = {
  "initramfs-tools": [
    [devices.netClaimed.address],
    [devices.netPinned.address, "--driver", fixtures.subsys.module],
    [devices.nvme.address],
    vmxnetClaimed,
  ],
  dracut: [[devices.ide.address]],
};

/** What each root claims at image build, by address (the tests' notion of "claimed"). */
export const claimedAt: Readonly<Record<RootFlavour, readonly string[]>> = {
  "initramfs-tools": [devices.netClaimed.address, devices.netPinned.address, devices.nvme.address, ...vmxnetClaimed],
  dracut: [devices.ide.address],
};

/** The QEMU arguments for the devices, the root disk's image attached to the first. */
export function deviceArgv(diskImage: string): string[] {
  const argv = ["-drive", `file=${diskImage},format=raw,if=none,id=root,cache=unsafe`];
  for (const device of Object.values(devices)) {
    const slotOf = device.address.slice(8, 10);
    argv.push("-device", `${device.qemu},addr=${slotOf}.0`);
  }
  return argv;
}
