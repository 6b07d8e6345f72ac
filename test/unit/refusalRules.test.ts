/** Every refusal rule of policy/safetyVerdict.ts, in-process, on plain device objects. */
import { describe, expect, it } from "vitest";
import { parseModalias } from "../../src/alias/modalias.js";
import {
  bindVerdict,
  groupCheckRefusal,
  pinnedModuleRefusal,
  releaseRefusal,
  safetyVerdict,
} from "../../src/policy/safetyVerdict.js";
import type { HostUse } from "../../src/sysfs/hostUsage.js";
import type { PciDevice } from "../../src/sysfs/pciDevice.js";
import type { VfioHolder } from "../../src/sysfs/vfioHolders.js";

function device(overrides: Partial<PciDevice> = {}): PciDevice {
  return {
    address: "0000:3b:00.2",
    path: "/sys/devices/pci0000:3a/0000:3b:00.2",
    vendor: "15b3",
    device: "101e",
    subsystemVendor: "15b3",
    subsystemDevice: "0001",
    classCode: "020000",
    modalias: parseModalias("pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00"),
    driver: "mlx5_core",
    driverOverride: null,
    iommuGroup: "42",
    iommuGroupPeers: [],
    sriov: { role: "none" },
    headerType: 0,
    headerKind: "endpoint",
    hasVfioDev: false,
    numaNode: null,
    bootVga: false,
    ...overrides,
  };
}

const up: HostUse = { kind: "net-up", name: "eth2", reason: "eth2 is up" };
const qemu: VfioHolder = { pid: 4711, command: "qemu-system-x86", node: "/dev/vfio/42" };
const HELD =
  "/dev/vfio/42 is open by qemu-system-x86 (pid 4711); stop the VM first (--force does not change this: the kernel would block the unbind until it lets go)";
const mounted: HostUse = { kind: "mounted", name: "nvme0n1p1", reason: "nvme0n1p1 is mounted on /" };

describe("safetyVerdict and bindVerdict (bind)", () => {
  it("accepts an idle endpoint with an IOMMU group", () => {
    expect(bindVerdict(device(), [], false)).toEqual({ ok: true, overridden: [] });
  });

  it("refuses hard, even with --force: non-endpoints, PFs with VFs, no IOMMU group, all at once", () => {
    const verdict = safetyVerdict(
      device({ headerKind: "bridge", iommuGroup: null, sriov: { role: "pf", numVfs: 2, totalVfs: 8, vfs: [] } }),
      [up],
      true,
    );
    expect(verdict).toEqual({
      ok: false,
      forceable: false,
      reason:
        "it is a PCI bridge; only endpoint devices can go to VFIO; it has 2 VFs enabled and VFIO refuses such a PF; set sriov_numvfs to 0 first, or claim its VFs; it has no IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on) and reboot; eth2 is up",
    });
  });

  it("refuses what the host uses unless --force, and says what --force overrode", () => {
    expect(safetyVerdict(device({ bootVga: true }), [up], false)).toEqual({
      ok: false,
      forceable: true,
      reason: "it is the boot display (boot_vga); eth2 is up; use --force to take it anyway",
    });
    expect(safetyVerdict(device(), [up], true)).toEqual({ ok: true, overridden: ["eth2 is up"] });
  });

  it("moves a device between VFIO drivers only when no process holds it, --force or not", () => {
    const onVfio = device({ driver: "vfio-pci", hasVfioDev: true });
    expect(bindVerdict(onVfio, [], false)).toEqual({ ok: true, overridden: [] });
    expect(bindVerdict(onVfio, [], false, [])).toEqual({ ok: true, overridden: [] });
    for (const force of [false, true]) {
      expect(bindVerdict(onVfio, [], force, [qemu])).toEqual({
        ok: false,
        forceable: false,
        reason: `it is bound to vfio-pci, and ${HELD}`,
      });
    }
  });

  it("ignores holders of a device not on a VFIO driver (its nodes are not this device's)", () => {
    expect(bindVerdict(device(), [], false, [qemu])).toEqual({ ok: true, overridden: [] });
  });
});

describe("groupCheckRefusal (Group=check)", () => {
  const peerOnHost = device({ address: "0000:3b:00.3", driver: "mlx5_core" });
  const peerOnVfio = device({ address: "0000:3b:00.4", driver: "vfio-pci", hasVfioDev: true });
  const peerBridge = device({ address: "0000:3a:00.0", driver: "pcieport", headerKind: "bridge" });
  const peerUnbound = device({ address: "0000:3b:00.5", driver: null });

  it("has no objection when every other endpoint is on VFIO or unbound (bridges do not count)", () => {
    expect(groupCheckRefusal(device(), [peerOnVfio, peerBridge, peerUnbound], () => false)).toBeNull();
  });

  it("refuses while a peer sits on a host driver, naming it", () => {
    expect(groupCheckRefusal(device(), [peerOnHost, peerOnVfio], () => false)).toBe(
      "IOMMU group 42 also holds 0000:3b:00.3 (mlx5_core) on a host driver, so no VM could use it; claim it too, or set Group=bind",
    );
  });

  it("does not count a bridge by class with an endpoint header (an LPC bridge) as blocking", () => {
    const lpc = device({ address: "0000:00:1f.0", driver: "lpc_ich", classCode: "060100" });
    expect(groupCheckRefusal(device(), [lpc], () => false)).toBeNull();
  });

  it("lets a claimed peer pass: its own event binds it", () => {
    expect(groupCheckRefusal(device(), [peerOnHost], (peer) => peer.address === "0000:3b:00.3")).toBeNull();
  });
});

describe("releaseRefusal (release, with or without --force)", () => {
  it("refuses a device on a host driver that the host is using, record or not", () => {
    const nvme = device({ driver: "nvme" });
    for (const hasRecord of [true, false]) {
      expect(releaseRefusal(nvme, [mounted], hasRecord)).toBe(
        "nvme0n1p1 is mounted on /; releasing would unbind nvme from under the host (--force does not change this)",
      );
    }
  });

  it("refuses a device on a host driver that vfio-autobind has no record of: nothing to release", () => {
    expect(releaseRefusal(device({ driver: "nvme" }), [], false)).toBe(
      "it is on nvme, not a VFIO driver; there is nothing to release",
    );
  });

  it("lets a device on a VFIO driver or unbound go back, and one with a record", () => {
    expect(releaseRefusal(device({ driver: "vfio-pci", hasVfioDev: true }), [], false)).toBeNull();
    expect(releaseRefusal(device({ driver: null }), [], false)).toBeNull();
    expect(releaseRefusal(device({ driver: "nvme" }), [], true)).toBeNull();
  });

  it("refuses a device on a VFIO driver that a process holds, naming every holder, record or not", () => {
    const onVfio = device({ driver: "vfio-pci", hasVfioDev: true });
    const cdev: VfioHolder = { pid: 4800, command: "crosvm", node: "/dev/vfio/devices/vfio0" };
    for (const hasRecord of [true, false]) {
      expect(releaseRefusal(onVfio, [], hasRecord, [qemu])).toBe(HELD);
      expect(releaseRefusal(onVfio, [], hasRecord, [qemu, cdev])).toBe(
        "/dev/vfio/42 is open by qemu-system-x86 (pid 4711); /dev/vfio/devices/vfio0 is open by crosvm (pid 4800); stop the VM first (--force does not change this: the kernel would block the unbind until it lets go)",
      );
    }
  });
});

describe("pinnedModuleRefusal (--driver, Driver=)", () => {
  const vfioModules = new Set(["vfio_pci", "mlx5_vfio_pci"]);
  it("accepts the generic vfio_pci, even when modules.alias could not be read, and variants", () => {
    expect(pinnedModuleRefusal("vfio_pci", new Set())).toBeNull();
    expect(pinnedModuleRefusal("mlx5_vfio_pci", vfioModules)).toBeNull();
  });
  it("refuses a host driver's module", () => {
    expect(pinnedModuleRefusal("nvme", vfioModules)).toBe(
      "nvme is not a VFIO driver (it has no vfio_pci: alias in modules.alias); pin vfio_pci or one of its variants",
    );
  });
});
