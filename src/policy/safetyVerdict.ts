/**
 * Whether a device may be taken from the host, decided before anything is written. Pure.
 *
 * Never, even with --force: bridges and other non-endpoints, by header type or by class
 * 06xx (vfio-pci refuses them and the devices behind them would go too), a PF with VFs enabled (vfio-pci refuses it with
 * EBUSY), and a device with no IOMMU group (no vfio driver can bind it).
 * Unless --force: the boot display and anything the host is using under the device.
 * Every finding is reported at once, so one run tells the admin all that stands in the way.
 */
import type { HostUse } from "../sysfs/hostUsage.js";
import type { PciDevice } from "../sysfs/pciDevice.js";

export type SafetyVerdict =
  | { readonly ok: true; /** In-use findings that --force overrode. */ readonly overridden: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly forceable: boolean };

/** PCI base class 06 (host, ISA, PCI-to-PCI, CardBus... bridges), from the class code `060000`. */
export function isBridgeClass(classCode: string): boolean {
  return classCode.slice(0, 2) === "06";
}

/**
 * Why a device can never go to VFIO for what it is, or null: a bridge by header type or by
 * class (a host bridge has an endpoint header but class 0600). list and explain call it
 * too, so they never offer a VFIO driver that bind would refuse.
 */
export function bridgeRefusal(device: Pick<PciDevice, "classCode" | "headerKind">): string | null {
  const what =
    device.headerKind === "bridge" || device.headerKind === "cardbus"
      ? `it is a PCI ${device.headerKind === "bridge" ? "bridge" : "CardBus bridge"}`
      : isBridgeClass(device.classCode)
        ? `it is a bridge (class ${device.classCode.slice(0, 4)})`
        : null;
  return what === null ? null : `${what}; only endpoint devices can go to VFIO`;
}

function hardRefusals(device: PciDevice): string[] {
  const refusals: string[] = [];
  const bridge = bridgeRefusal(device);
  if (bridge !== null) refusals.push(bridge);
  else if (device.headerKind === "unknown") {
    refusals.push("its PCI header type cannot be read; only endpoint devices can go to VFIO");
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
