/**
 * The boot suite's machines and what each image claims. The hold scenarios share one
 * layout (`devices`), so that a device keeps its address from boot to boot and from root to
 * root; the driverctl comparison has its own (`compareDevices`). Every device sits on the
 * root complex (pcie.0) at a fixed slot; the claims name devices by address, since
 * siblings share their ids.
 */

import { COMPARE_DRIVER } from "../../shared/driverctlCompare.js";

export type RootFlavour = "initramfs-tools" | "dracut";

export interface BootDevice {
  readonly address: string;
  /** QEMU `-device` argument, without the `addr=` this layout adds. */
  readonly qemu: string;
  /** The host driver the device ends on when nobody claims it (its PCI driver name). */
  readonly hostDriver: string;
  /**
   * That driver's module. Where the release's kernel has it built in (no .ko of it:
   * nvme in every cloud kernel, virtio_pci from Debian 13 on), it binds the device during
   * device_add(), before any userspace: no hold can stop it, and the helper takes the
   * device from it after boot. Elsewhere the holds keep it away.
   */
  readonly hostModule: string;
}

const slot = (n: number): string => `0000:00:${n.toString(16).padStart(2, "0")}.0`;

/** The root file system: an unclaimed modern virtio-blk, so virtio_pci loads in the initramfs. */
export const rootDisk: BootDevice = {
  address: slot(2),
  qemu: "virtio-blk-pci,disable-legacy=on,drive=root",
  hostDriver: "virtio-pci",
  hostModule: "virtio_pci",
};

const virtioNet = (n: number): BootDevice => ({
  address: slot(n),
  qemu: "virtio-net-pci,disable-legacy=on",
  hostDriver: "virtio-pci",
  hostModule: "virtio_pci",
});
const vmxnet = (n: number): BootDevice => ({
  address: slot(n),
  qemu: "vmxnet3",
  hostDriver: "vmxnet3",
  hostModule: "vmxnet3",
});

export const devices = {
  rootDisk,
  /** (a): claimed; the fixture's subsystem variant (4 `*`) is its most specific driver. */
  netClaimed: virtioNet(3),
  /** (a): unclaimed beside it; (d) claims it in the guest after the initramfs was built. */
  netLate: virtioNet(4),
  /** (e): claimed, pinned to the subsystem variant, whose probe fails when fail_probe=1. */
  netPinned: virtioNet(5),
  /** (f): the cloud kernel's nvme is built in: probed in device_add(), before any userspace. */
  nvme: { address: slot(6), qemu: "nvme,serial=vmboot-nvme", hostDriver: "nvme", hostModule: "nvme" },
  /** (c): four vmxnet3 NICs, the module left out of the initramfs; 07 and 09 claimed. */
  vmxnet1: vmxnet(7),
  vmxnet2: vmxnet(8),
  vmxnet3: vmxnet(9),
  vmxnet4: vmxnet(10),
  /**
   * (b): a non-virtio storage controller whose module (ata_piix) a generic dracut
   * initramfs carries. Not pvscsi: vmw_pvscsi oopses in its interrupt handler under QEMU's
   * IOMMU. One only: PIIX IDE sits at the legacy ports.
   */
  ide: { address: slot(11), qemu: "piix3-ide", hostDriver: "ata_piix", hostModule: "ata_piix" },
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

/** Every host module of the machines' devices: the report says which of them the kernel has built in. */
export const HOST_MODULES: readonly string[] = [...new Set(Object.values(devices).map((d) => d.hostModule))];

/** A machine: its devices by name, the root disk first. */
export type BootLayout = Readonly<Record<string, BootDevice>>;

/**
 * The driverctl comparison's machine (booted the Debian way): the root
 * disk and 8 modern virtio-net, as in the VM suite's comparison boots. Both tools pin all 8
 * to vfio-pci; virtio_pci loads in the initramfs for the root disk either way.
 */
export const compareDevices = {
  rootDisk,
  ...Object.fromEntries(Array.from({ length: 8 }, (_, n) => [`net${n + 1}`, virtioNet(3 + n)])),
} as const satisfies BootLayout;

export const compareAddresses: readonly string[] = Object.values(compareDevices)
  .filter((d) => d !== rootDisk)
  .map((d) => d.address);

/**
 * One disk image: the cached root it is made from, the machine it boots on, and what the
 * image build puts in place (our claims, or driverctl's overrides). One home for what
 * each image claims: the image build, the boots and the tests read it here.
 */
export interface ImageRecipe {
  readonly flavour: RootFlavour;
  readonly layout: BootLayout;
  /** `vfio-autobind claim` argument vectors, run in the image build's chroot. */
  readonly claims: readonly (readonly string[])[];
  /** What the image claims, by address (the tests' notion of "claimed"). */
  readonly claimed: readonly string[];
  /** Devices with a driverctl override (to COMPARE_DRIVER) in the image. */
  readonly driverctlOverrides: readonly string[];
  /**
   * Devices the runner's unit waits for on COMPARE_DRIVER, in sh, before its Node starts:
   * a Node start (seconds under TCG) would compete with the binds being timed.
   */
  readonly awaitBound: readonly string[];
  /** `vfio-autobind` argument vectors run after the initramfs was built: it is stale then. */
  readonly afterInitramfs?: readonly (readonly string[])[];
  /** `dpkg -r vfio-autobind` last; the initramfs from before it is kept for a boot too. */
  readonly removePackage?: boolean;
  /** A unit that makes the helper's state directory unusable when BREAK_STATE is on the command line. */
  readonly stateBreaker?: boolean;
}

/** On the kernel command line of an image with a stateBreaker: /run/vfio-autobind's devices/ and locks/ are files. */
export const BREAK_STATE = "vmboot.break-state";

/** The root disk's model (modern virtio-blk), as a claim by ids names it. */
export const ROOT_DISK_IDS = "1af4:1042";

export const IMAGES = {
  "initramfs-tools": {
    flavour: "initramfs-tools",
    layout: devices,
    claims: [
      [devices.netClaimed.address],
      [devices.netPinned.address, "--driver", fixtures.subsys.module],
      [devices.nvme.address],
      vmxnetClaimed,
    ],
    claimed: [devices.netClaimed.address, devices.netPinned.address, devices.nvme.address, ...vmxnetClaimed],
    driverctlOverrides: [],
    awaitBound: [],
  },
  dracut: {
    flavour: "dracut",
    layout: devices,
    claims: [[devices.ide.address]],
    claimed: [devices.ide.address],
    driverctlOverrides: [],
    awaitBound: [],
  },
  /** What `vfio-autobind claim --driver vfio-pci <the 8>` gives, on the initramfs-tools root (driverctl installed, unused). */
  "compare-ours": {
    flavour: "initramfs-tools",
    layout: compareDevices,
    claims: [[...compareAddresses, "--driver", COMPARE_DRIVER]],
    claimed: compareAddresses,
    driverctlOverrides: [],
    awaitBound: compareAddresses,
  },
  /**
   * What can strand a device, on one image: a claim that selects the root disk's model (the
   * image build has no /sys, so nothing can tell it is the root), and netLate unclaimed after
   * the initramfs was built (the initramfs holds it, the root's claims do not).
   */
  hazards: {
    flavour: "initramfs-tools",
    layout: devices,
    claims: [
      [devices.netClaimed.address],
      [devices.netLate.address],
      [devices.netPinned.address, "--driver", fixtures.subsys.module],
      ["--ids", ROOT_DISK_IDS],
    ],
    claimed: [devices.netClaimed.address, devices.netPinned.address, devices.rootDisk.address],
    driverctlOverrides: [],
    awaitBound: [],
    afterInitramfs: [["unclaim", devices.netLate.address]],
    stateBreaker: true,
  },
  /** Claims in the initramfs, then the package removed. */
  removed: {
    flavour: "initramfs-tools",
    layout: devices,
    claims: [[devices.netClaimed.address], [devices.netPinned.address, "--driver", fixtures.subsys.module]],
    claimed: [],
    driverctlOverrides: [],
    awaitBound: [],
    removePackage: true,
  },
  /** The same root with driverctl's overrides for the 8 instead (our package installed, no claim). */
  "compare-driverctl": {
    flavour: "initramfs-tools",
    layout: compareDevices,
    claims: [],
    claimed: [],
    driverctlOverrides: compareAddresses,
    awaitBound: compareAddresses,
  },
} as const satisfies Record<string, ImageRecipe>;

export type ImageName = keyof typeof IMAGES;

/** The QEMU arguments for the devices, the root disk's image attached to the first. */
export function deviceArgv(diskImage: string, layout: BootLayout): string[] {
  const argv = ["-drive", `file=${diskImage},format=raw,if=none,id=root,cache=unsafe`];
  for (const device of Object.values(layout)) {
    const slotOf = device.address.slice(8, 10);
    argv.push("-device", `${device.qemu},addr=${slotOf}.0`);
  }
  return argv;
}
