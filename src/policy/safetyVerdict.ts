/**
 * Every rule that refuses a device, in one file: taking it from the host (bind), moving it
 * between VFIO drivers, the IOMMU group policy of a claim, handing it back (release), and
 * which drivers a pin may name. Pure: the binder only carries out what these decide.
 *
 * Whether a device may be taken from the host, decided before anything is written:
 *
 * Never, even with --force: bridges and other non-endpoints, by header type or by class
 * 06xx (vfio-pci refuses them and the devices behind them would go too), a PF with VFs enabled (vfio-pci refuses it with
 * EBUSY), and a device with no IOMMU group (no vfio driver can bind it).
 * Unless --force: the boot display and anything the host is using under the device.
 * Every finding is reported at once, so one run tells the admin all that stands in the way.
 * A claim on a device the host uses is refused in the config by the same findings.
 */
import { GENERIC_VFIO_MODULE } from "../alias/aliasRecords.js";
import { isOverrideOurs } from "./hold.js";
import type { HostUse } from "../sysfs/hostUsage.js";
import type { PciDevice } from "../sysfs/pciDevice.js";
import { describeHolders, type VfioHolder } from "../sysfs/vfioHolders.js";

export type SafetyVerdict =
  | { readonly ok: true; /** In-use findings that --force overrode. */ readonly overridden: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly forceable: boolean };

/** PCI base class 06 (host, ISA, PCI-to-PCI, CardBus... bridges), from the class code `060000`. */
export function isBridgeClass(classCode: string): boolean {
  return classCode.slice(0, 2) === "06";
}

/**
 * Why a device can never go to VFIO for what it is, or null: a bridge by header type or by
 * class (a host bridge has an endpoint header but class 0600).
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

/** Why no VFIO driver can bind a device outside an IOMMU group, or null when it has one. */
function noIommuGroupRefusal(device: Pick<PciDevice, "iommuGroup">): string | null {
  return device.iommuGroup === null
    ? "it has no IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on) and reboot"
    : null;
}

/**
 * Why no VFIO driver is ever offered for a device, whatever the admin says, or null: a
 * bridge, or no IOMMU group. list and explain call it, so they never offer a VFIO driver
 * that bind would refuse.
 */
export function notForVfioRefusal(device: Pick<PciDevice, "classCode" | "headerKind" | "iommuGroup">): string | null {
  return bridgeRefusal(device) ?? noIommuGroupRefusal(device);
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
  const noGroup = noIommuGroupRefusal(device);
  if (noGroup !== null) refusals.push(noGroup);
  return refusals;
}

/** What the host uses the device for now: the boot display, and what it uses under it. */
function inUseFindings(device: Pick<PciDevice, "bootVga">, hostUses: readonly HostUse[]): string[] {
  return [...(device.bootVga ? ["it is the boot display (boot_vga)"] : []), ...hostUses.map((use) => use.reason)];
}

export function safetyVerdict(device: PciDevice, hostUses: readonly HostUse[], force: boolean): SafetyVerdict {
  const hard = hardRefusals(device);
  const inUse = inUseFindings(device, hostUses);
  if (hard.length > 0) return { ok: false, reason: [...hard, ...inUse].join("; "), forceable: false };
  if (inUse.length === 0) return { ok: true, overridden: [] };
  if (force) return { ok: true, overridden: inUse };
  return { ok: false, reason: `${inUse.join("; ")}; use --force to take it anyway`, forceable: true };
}

/**
 * A claim (without Force=yes) that selects a device the host uses now: the same findings
 * bind refuses without --force. It must be refused in the config, not only when bind runs:
 * at boot the hold keeps the device from its driver before anything is mounted or up, so
 * nothing would stop a claim on the root disk or the only NIC from taking it away.
 * Null: no objection.
 */
export function claimInUseRefusal(
  device: Pick<PciDevice, "address" | "bootVga">,
  hostUses: readonly HostUse[],
  force: boolean,
): string | null {
  const inUse = inUseFindings(device, hostUses);
  if (force || inUse.length === 0) return null;
  return `[Claim] selects ${device.address}, which the host uses: ${inUse.join("; ")}; add Force=yes to take it anyway`;
}

/**
 * Any unbind from a VFIO driver (release, a move to another VFIO driver, apply or unclaim
 * releasing it): refused while a process holds the device's VFIO group node or cdev. The
 * kernel's unbind waits for the holder to let go (vfio_unregister_group_dev blocks), so the
 * admin would see a hung command, and the guest loses its device. --force cannot change
 * that, and waiting is the VM owner's decision, so there is no --wait: the refusal names
 * every holder at once. Null: nobody holds it.
 */
export function holderRefusal(holders: readonly VfioHolder[]): string | null {
  if (holders.length === 0) return null;
  return `${describeHolders(holders)}; stop the VM first (--force does not change this: the kernel would block the unbind until it lets go)`;
}

/**
 * `bind`: the safety verdict, plus one rule of its own. A device already on a VFIO driver
 * and held by a process (a VM) is never moved to another VFIO driver, --force or not; one
 * nobody holds may move.
 */
export function bindVerdict(
  device: PciDevice,
  hostUses: readonly HostUse[],
  force: boolean,
  holders: readonly VfioHolder[] = [],
): SafetyVerdict {
  const verdict = safetyVerdict(device, hostUses, force);
  const held = device.hasVfioDev ? holderRefusal(holders) : null;
  if (held === null) return verdict;
  const reason = verdict.ok ? held : `${verdict.reason}; ${held}`;
  return { ok: false, reason: `it is bound to ${device.driver}, and ${reason}`, forceable: false };
}

/**
 * A device a claim's group policy may bind along with the claimed one: an endpoint that is
 * no bridge by class either (an LPC/ISA bridge has an endpoint header but class 0601).
 */
export const isGroupEndpoint = (device: PciDevice): boolean =>
  device.headerKind === "endpoint" && bridgeRefusal(device) === null;

/** An endpoint on a host driver: it keeps every VM from opening the IOMMU group. */
const onHostDriver = (device: PciDevice): boolean =>
  isGroupEndpoint(device) && device.driver !== null && !device.hasVfioDev;

/**
 * A claim's `Group=check`: refused while another endpoint of the IOMMU group sits on a host
 * driver and no claim selects it (a claimed peer's own event binds it). Null: no objection.
 */
export function groupCheckRefusal(
  device: PciDevice,
  peers: readonly PciDevice[],
  isClaimed: (peer: PciDevice) => boolean,
): string | null {
  const blocking = peers.filter((peer) => onHostDriver(peer) && !isClaimed(peer));
  if (blocking.length === 0) return null;
  const names = blocking.map((peer) => `${peer.address} (${peer.driver})`).join(", ");
  return `IOMMU group ${device.iommuGroup} also holds ${names} on a host driver, so no VM could use it; claim ${blocking.length === 1 ? "it" : "them"} too, or set Group=bind`;
}

/**
 * `release`: on its way back a device meets the same checks as on its way out, and --force
 * (release one we have no record of) does not bypass them. A device on a host driver is not
 * ours to hand back; unbinding it from under a mounted disk or an up link is never done.
 * Null: it may be released.
 */
export function releaseRefusal(
  device: PciDevice,
  hostUses: readonly HostUse[],
  hasRecord: boolean,
  holders: readonly VfioHolder[] = [],
): string | null {
  if (device.driver === null) return null;
  if (device.hasVfioDev) return holderRefusal(holders);
  if (hostUses.length > 0) {
    return `${hostUses.map((use) => use.reason).join("; ")}; releasing would unbind ${device.driver} from under the host (--force does not change this)`;
  }
  if (!hasRecord) return `it is on ${device.driver}, not a VFIO driver; there is nothing to release`;
  return null;
}

/**
 * A pinned driver (`bind --driver`, `Driver=`) must be a VFIO driver: the generic vfio_pci or
 * a module with a `vfio_pci:` alias. Anything else would "bind" the device to a host driver.
 */
export function pinnedModuleRefusal(module: string, vfioModules: ReadonlySet<string>): string | null {
  if (module === GENERIC_VFIO_MODULE || vfioModules.has(module)) return null;
  return `${module} is not a VFIO driver (it has no vfio_pci: alias in modules.alias); pin vfio_pci or one of its variants`;
}

/**
 * A claim never overwrites a driver_override someone else set (the admin by hand,
 * driverctl, a script): only an empty one, a hold, the value the rules wrote for this
 * event, or the name of a VFIO driver it may move the device to. `bind` by hand is the
 * admin's own act and is not subject to this.
 */
export function foreignOverrideRefusal(
  override: string | null,
  rulesDriver: string | null,
  vfioDrivers: () => ReadonlySet<string>,
): string | null {
  if (override === null || isOverrideOurs(override, rulesDriver) || vfioDrivers().has(override)) return null;
  return `its driver_override is ${JSON.stringify(override)}, set outside vfio-autobind; it is never overwritten: clear it (echo > driver_override) and run "vfio-autobind apply"`;
}
