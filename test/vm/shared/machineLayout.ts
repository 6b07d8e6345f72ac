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
  /**
   * The bus number firmware gives the port's secondary side. Ports get buses in slot
   * order (SeaBIOS numbers depth first), so the device behind the n-th port is
   * 0000:0n:00.0. Claims written before boot name devices behind ports by it; the udev
   * scenarios check it against the guest's `secondary_bus_number`.
   */
  readonly secondaryBus: number;
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

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");

const rootPort = (id: string, slot: number, chassis: number): RootPort => ({
  id,
  address: `0000:00:${hex2(slot)}.0`,
  // chassis numbers follow slot order, and so do the buses.
  secondaryBus: chassis,
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
  /** virtio-net for the beside-libvirt scenario: claimed there, given to a libvirt domain, unclaimed. */
  netLibvirt: {
    id: "net-libvirt",
    address: "0000:00:0b.0",
    purpose: "claimed, then detached, used, reattached by the release's libvirt",
    qemuArgs: virtioNet("net-libvirt", 0xb),
  },
} as const satisfies Record<string, BootDevice>;

/**
 * Devices for the udev scenarios (guest/scenarios/udev*.ts), on the root bus from boot.
 * Kept apart from bootDevices so that the CLI scenarios never meet them; which of them
 * are claimed before boot is in shared/udevClaims.ts.
 */
export const udevBootDevices = {
  /** virtio-net like netVariant, claimed before boot: udev must take it to the subsystem variant. */
  netClaimed: {
    id: "net-claimed",
    address: "0000:00:08.0",
    purpose: "claimed before boot: bound to its most specific variant during coldplug",
    qemuArgs: virtioNet("net-claimed", 0x8),
  },
  /** A second NVMe controller, claimed before boot: nvme holds it before udev runs. */
  nvmeClaimed: {
    id: "nvme-claimed",
    address: "0000:00:09.0",
    purpose: "claimed before boot while the built-in nvme already holds it",
    qemuArgs: ["-device", "nvme,serial=vmtest-nvme1,id=nvme-claimed,addr=0x9"],
  },
  /** virtio-blk, claimed only later in the guest (`vfio-autobind claim`, then udevadm trigger). */
  blkLateClaim: {
    id: "blk-late-claim",
    address: "0000:00:0a.0",
    purpose: "claimed at run time: udevadm trigger binds it, unclaim and apply give it back",
    qemuArgs: virtioBlk("blk-late-claim", 0xa),
  },
} as const satisfies Record<string, BootDevice>;

export const rootPorts = {
  /** Holds the SR-IOV NVMe physical function of the sriov-vfs (CLI) scenario. */
  sriov: rootPort("rp-sriov", 0x10, 1),
  /** Free at boot: hotplug targets. */
  hotplug1: rootPort("rp-hotplug1", 0x11, 2),
  hotplug2: rootPort("rp-hotplug2", 0x12, 3),
  hotplug3: rootPort("rp-hotplug3", 0x13, 4),
  /** Holds the second SR-IOV PF, whose VFs the udev-sriov scenario claims. */
  sriovUdev: rootPort("rp-sriov-udev", 0x14, 5),
} as const satisfies Record<string, RootPort>;

/** The address of the (only) device behind a root port, from the layout. */
export const addressBehind = (port: RootPort): string => `0000:${hex2(port.secondaryBus)}:00.0`;

/** QEMU 7.2's emulated SR-IOV NVMe controller (qemu-notes.md): a PF with two VFs, 1b36:0010. */
const sriovNvme = (id: string, serial: string, port: RootPort) =>
  ({
    id,
    /** The PF's address in the guest. */
    pfAddress: addressBehind(port),
    maxVfs: 2,
    /** QEMU's NVMe PF puts VF n at routing id PF + 1 + n (First VF Offset 1, VF Stride 1). */
    vfOffset: 1,
    vfStride: 1,
    qemuArgs: [
      "-device",
      `nvme-subsys,id=${id}-subsys`,
      "-device",
      `nvme,serial=${serial},id=${id},bus=${port.id},subsys=${id}-subsys,` +
        "sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6,msix_qsize=5",
    ],
  }) as const;

/** The sriov-vfs (CLI) scenario's PF. */
export const sriovController = sriovNvme("nvme-sriov-pf", "vmtest-sriov", rootPorts.sriov);
/** The udev-sriov scenario's PF: its VFs are claimed (VfsOf=) before boot. */
export const sriovUdevController = sriovNvme("nvme-sriov-udev-pf", "vmtest-sriov-udev", rootPorts.sriovUdev);

/** The fixture variant drivers built from test/vm/fixtures: module name and PCI driver name differ on purpose. */
export const fixtureVariants = {
  /** 1af4:1041 with subsystem vendor 1af4: four '*'. */
  subsys: { module: "fixture_vfio_virtio_subsys", driver: "fixture-vfio-virtio-subsys" },
  /** 1af4:1041 and 1af4:1042, any subsystem: five '*'. */
  generic: { module: "fixture_vfio_virtio", driver: "fixture-vfio-virtio" },
} as const;

/**
 * The host driver the guest kernel binds to each kind of device in the layout, by
 * `vendor:device`: what an unclaimed device must keep. (The chipset's own functions have
 * none in bookworm's kernel config; shared/releases.ts has what later kernels bind.)
 */
export const hostDrivers: Readonly<Record<string, string>> = {
  "1af4:1041": "virtio-pci",
  "1af4:1042": "virtio-pci",
  "1b36:0010": "nvme",
  "1b36:000c": "pcieport",
};

/** The kernel's generic VFIO driver. */
export const genericVfio = { module: "vfio_pci", driver: "vfio-pci" } as const;

/** Every QEMU argument for the devices above, in a stable order. */
export function deviceQemuArgs(): string[] {
  return [
    ...Object.values(bootDevices).flatMap((d) => d.qemuArgs),
    ...Object.values(udevBootDevices).flatMap((d) => d.qemuArgs),
    ...Object.values(rootPorts).flatMap((p) => p.qemuArgs),
    ...sriovController.qemuArgs,
    ...sriovUdevController.qemuArgs,
  ];
}

/**
 * The machine of the driverctl comparison boots (shared/driverctlCompare.ts), a separate
 * guest from the one above: 8 devices of one model (virtio-net, 1af4:1041), each behind
 * its own PCIe root port, so each is its own IOMMU group and neither tool serializes them
 * on a shared group. Nothing else is added, so both comparison boots see the same machine.
 */
export const compareRootPorts: readonly RootPort[] = Array.from({ length: 8 }, (_, n) =>
  rootPort(`rp-compare${n + 1}`, 0x3 + n, n + 1),
);

export const compareDevices: readonly BootDevice[] = compareRootPorts.map((port, n) => ({
  id: `net-compare${n + 1}`,
  address: addressBehind(port),
  purpose: "ours against driverctl, pinned to vfio-pci",
  qemuArgs: ["-device", `virtio-net-pci,disable-legacy=on,id=net-compare${n + 1},bus=${port.id}`],
}));

/** Every QEMU argument of the comparison machine. */
export function compareQemuArgs(): string[] {
  return [...compareRootPorts.flatMap((p) => p.qemuArgs), ...compareDevices.flatMap((d) => d.qemuArgs)];
}
