/**
 * The guest machine's PCI layout, in one place: the host turns it into QEMU arguments and
 * the guest scenarios name devices by the same fixed addresses. Every device sits at a
 * fixed slot (`addr=`) so that its PCI address in the guest never depends on probe order.
 */

/** A device on the root bus, present from boot. */
export interface BootDevice {
  /** QEMU device id, also used in messages. */
  readonly id: string;
  /** Its address in the guest. */
  readonly address: string;
  /** What the suite uses it for. */
  readonly purpose: string;
  /** QEMU arguments that create it (a backend, if any, then the device). */
  readonly qemuArgs: readonly string[];
}

/** A PCIe root port: a slot for the SR-IOV controller or for hotplug through QMP. */
export interface RootPort {
  readonly id: string;
  /** The port's own address; a device behind it shows up as a child of this directory. */
  readonly address: string;
  readonly qemuArgs: readonly string[];
}

const virtioNet = (id: string, slot: number): string[] => [
  "-device",
  `virtio-net-pci,disable-legacy=on,id=${id},addr=0x${slot.toString(16)}`,
];

const virtioBlk = (id: string, slot: number): string[] => [
  // A null block backend: the device needs a drive, the suite never reads it.
  "-drive",
  `if=none,id=${id}-drive,driver=null-co,size=16M`,
  "-device",
  `virtio-blk-pci,disable-legacy=on,drive=${id}-drive,id=${id},addr=0x${slot.toString(16)}`,
];

const rootPort = (id: string, slot: number, chassis: number): RootPort => ({
  id,
  address: `0000:00:${slot.toString(16).padStart(2, "0")}.0`,
  qemuArgs: ["-device", `pcie-root-port,id=${id},chassis=${chassis},slot=${chassis},addr=0x${slot.toString(16)}`],
});

export const bootDevices = {
  /** virtio-net (1af4:1041, subsystem 1af4:1100): matched by both fixture variants; the subsystem one must win. */
  netVariant: {
    id: "net-variant",
    address: "0000:00:03.0",
    purpose: "bind ranks the more specific fixture variant first",
    qemuArgs: virtioNet("net-variant", 0x3),
  },
  /** A second virtio-net, so that the failing-variant scenario never disturbs the first. */
  netFallback: {
    id: "net-fallback",
    address: "0000:00:04.0",
    purpose: "fallback to the next candidate and restore of the original driver",
    qemuArgs: virtioNet("net-fallback", 0x4),
  },
  /** virtio-blk (1af4:1042): only the less specific fixture variant matches it. */
  blkVariant: {
    id: "blk-variant",
    address: "0000:00:05.0",
    purpose: "a device whose best variant is the less specific fixture",
    qemuArgs: virtioBlk("blk-variant", 0x5),
  },
  /** Never touched by any scenario: it must keep virtio-pci to the end (an unclaimed device). */
  netUntouched: {
    id: "net-untouched",
    address: "0000:00:06.0",
    purpose: "left alone: keeps its host driver",
    qemuArgs: virtioNet("net-untouched", 0x6),
  },
  /** NVMe (1b36:0010): its driver is built into the cloud kernel, so it is bound before anything runs. */
  nvme: {
    id: "nvme-boot",
    address: "0000:00:07.0",
    purpose: "a host driver already bound: unbind, generic vfio-pci, release back to nvme",
    qemuArgs: ["-device", "nvme,serial=vmtest-nvme0,id=nvme-boot,addr=0x7"],
  },
} as const satisfies Record<string, BootDevice>;

export const rootPorts = {
  /** Holds the SR-IOV NVMe physical function. */
  sriov: rootPort("rp-sriov", 0x10, 1),
  /** Free at boot: hotplug targets. */
  hotplug1: rootPort("rp-hotplug1", 0x11, 2),
  hotplug2: rootPort("rp-hotplug2", 0x12, 3),
} as const satisfies Record<string, RootPort>;

/** QEMU 7.2's emulated SR-IOV NVMe controller (qemu-notes.md): a PF with two VFs, 1b36:0010. */
export const sriovController = {
  id: "nvme-sriov-pf",
  maxVfs: 2,
  qemuArgs: [
    "-device",
    "nvme-subsys,id=nvme-sriov-subsys",
    "-device",
    `nvme,serial=vmtest-sriov,id=nvme-sriov-pf,bus=${rootPorts.sriov.id},subsys=nvme-sriov-subsys,` +
      "sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6,msix_qsize=5",
  ],
} as const;

/** The fixture variant drivers built from test/vm/fixtures: module name and PCI driver name differ on purpose. */
export const fixtureVariants = {
  /** 1af4:1041 with subsystem vendor 1af4: four '*'. */
  subsys: { module: "fixture_vfio_virtio_subsys", driver: "fixture-vfio-virtio-subsys" },
  /** 1af4:1041 and 1af4:1042, any subsystem: five '*'. */
  generic: { module: "fixture_vfio_virtio", driver: "fixture-vfio-virtio" },
} as const;

/** The kernel's generic VFIO driver. */
export const genericVfio = { module: "vfio_pci", driver: "vfio-pci" } as const;

/** Every QEMU argument for the devices above, in a stable order. */
export function deviceQemuArgs(): string[] {
  return [
    ...Object.values(bootDevices).flatMap((d) => d.qemuArgs),
    ...Object.values(rootPorts).flatMap((p) => p.qemuArgs),
    ...sriovController.qemuArgs,
  ];
}
