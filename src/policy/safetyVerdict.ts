/**
 * Whether a device may be taken from the host, decided before anything is written. Pure.
 *
 * Never, even with --force: bridges and other non-endpoints (vfio-pci refuses them and
 * the devices behind them would go too), a PF with VFs enabled (vfio-pci refuses it with
 * EBUSY), and a device with no IOMMU group (no vfio driver can bind it).
 * Unless --force: the boot display and anything the host is using under the device.
 * Every finding is reported at once, so one run tells the admin all that stands in the way.
 */
import type { HostUse } from "../sysfs/hostUsage.js";
import type { PciDevice } from "../sysfs/pciDevice.js";

export type SafetyVerdict =
  | { readonly ok: true; /** In-use findings that --force overrode. */ readonly overridden: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly forceable: boolean };

function hardRefusals(device: PciDevice): string[] {
  const refusals: string[] = [];
  if (device.headerKind !== "endpoint") {
    const what =
      device.headerKind === "unknown"
        ? "its PCI header type cannot be read"
        : `it is a PCI ${device.headerKind === "bridge" ? "bridge" : "CardBus bridge"}`;
    refusals.push(`${what}; only endpoint devices can go to VFIO`);
  }
  if (device.sriov.role === "pf" && device.sriov.numVfs > 0) {
    refusals.push(
      `it has ${device.sriov.numVfs} VFs enabled and VFIO refuses such a PF; set sriov_numvfs to 0 first, or claim its VFs`,
    );
  }
  if (device.iommuGroup === null) {
    refusals.push("it has no IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on) and reboot");
  }
  return refusals;
}

export function safetyVerdict(device: PciDevice, hostUses: readonly HostUse[], force: boolean): SafetyVerdict {
  const hard = hardRefusals(device);
  const inUse = [
    ...(device.bootVga ? ["it is the boot display (boot_vga)"] : []),
    ...hostUses.map((use) => use.reason),
  ];
  if (hard.length > 0) return { ok: false, reason: [...hard, ...inUse].join("; "), forceable: false };
  if (inUse.length === 0) return { ok: true, overridden: [] };
  if (force) return { ok: true, overridden: inUse };
  return { ok: false, reason: `${inUse.join("; ")}; use --force to take it anyway`, forceable: true };
}
