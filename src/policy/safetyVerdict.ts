/**
 * Every rule that refuses a device, in one file: taking it from the host (bind), moving it
 * between VFIO drivers, the IOMMU group policy of a claim, handing it back (release), and
 * which drivers a pin may name. Pure: the binder only carries out what these decide.
 *
 * Whether a device may be taken from the host, decided before anything is written, from
 * the bind side of the eligibility table (eligibility.ts), the same rows the hold obeys:
 *
 * Never, even with --force: bridges and other non-endpoints, a PF with VFs enabled, and a
 * device with no IOMMU group. Unless --force: the boot display and anything the host is
 * using under the device. A claim or a udev event, never: a driver_override someone else
 * set. Every finding is reported at once, so one run tells the admin all that stands in
 * the way. A claim on a device the host uses is refused in the config by the same findings.
 */
import { GENERIC_VFIO_MODULE } from "../alias/aliasRecords.js";
import { bindRefusals, ROWS, type EligibilityContext, type EligibilityFacts } from "./eligibility.js";
import { isOverrideOurs } from "./hold.js";
import type { HostUse } from "../sysfs/hostUsage.js";
import type { PciDevice } from "../sysfs/pciDevice.js";
import { describeHolders, type VfioHolder } from "../sysfs/vfioHolders.js";

export { isBridgeClass } from "./eligibility.js";

export type SafetyVerdict =
  | { readonly ok: true; /** In-use findings that --force overrode. */ readonly overridden: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly forceable: boolean };

type FactsOf = Pick<
  PciDevice,
  "driver" | "driverOverride" | "iommuGroup" | "classCode" | "headerKind" | "bootVga" | "sriov"
>;

/** The eligibility table's view of a device as the sysfs adapter read it. */
export function eligibilityFacts(device: FactsOf): EligibilityFacts {
  const { driver, driverOverride, iommuGroup, classCode, headerKind, bootVga, sriov } = device;
  const numVfs = sriov.role === "pf" ? sriov.numVfs : 0;
  return { driver, driverOverride, iommuGroup, classCode, headerKind, bootVga, numVfs };
}

/** A manual bind replaces any override: the foreign-override row is not its to ask. */
const MANUAL_BIND: EligibilityContext = { overrideIsOurs: () => true };

/**
 * Why a device can never go to VFIO for what it is, or null: a bridge by header type or by
 * class (a host bridge has an endpoint header but class 0600).
 */
export function bridgeRefusal(device: Pick<PciDevice, "classCode" | "headerKind">): string | null {
  return ROWS.bridge.applies(device) ? ROWS.bridge.bind.refusal(device) : null;
}

/**
 * Why no VFIO driver is ever offered for a device, whatever the admin says, or null: a
 * bridge, or no IOMMU group. list and explain call it, so they never offer a VFIO driver
 * that bind would refuse.
 */
export function notForVfioRefusal(device: Pick<PciDevice, "classCode" | "headerKind" | "iommuGroup">): string | null {
  return bridgeRefusal(device) ?? (ROWS.noIommuGroup.applies(device) ? ROWS.noIommuGroup.bind.refusal() : null);
}

/** What the host uses the device for now: the boot display, and what it uses under it. */
function inUseFindings(device: EligibilityFacts, hostUses: readonly HostUse[]): string[] {
  return [...bindRefusals(device, "force", MANUAL_BIND), ...hostUses.map((use) => use.reason)];
}

export function safetyVerdict(device: PciDevice, hostUses: readonly HostUse[], force: boolean): SafetyVerdict {
  const facts = eligibilityFacts(device);
  const hard = bindRefusals(facts, "nobody", MANUAL_BIND);
  const inUse = inUseFindings(facts, hostUses);
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
  device: Pick<PciDevice, "address"> & FactsOf,
  hostUses: readonly HostUse[],
  force: boolean,
): string | null {
  const inUse = inUseFindings(eligibilityFacts(device), hostUses);
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
  device: FactsOf,
  rulesDriver: string | null,
  vfioDrivers: () => ReadonlySet<string>,
): string | null {
  const facts = eligibilityFacts(device);
  return (
    bindRefusals(facts, "manual-bind", {
      overrideIsOurs: (override) => isOverrideOurs(override, rulesDriver) || vfioDrivers().has(override),
    })[0] ?? null
  );
}
