/**
 * Binding a device because a claim selects it: the claim's options applied to `bind`, and
 * its IOMMU group policy. A VM can open a group only when every endpoint in it is on a
 * VFIO driver (or unbound), so:
 *   ignore  bind the device alone;
 *   check   refuse while another endpoint of the group sits on a host driver, unless a
 *           claim selects that one too (its own event binds it): policy/safetyVerdict.ts;
 *   bind    bind every other endpoint of the group as well (bridges, by header or class, are
 *           left alone).
 */
import type { Claim } from "../config/claimConfig.js";
import { foreignOverrideRefusal, groupCheckRefusal, isGroupEndpoint } from "../policy/safetyVerdict.js";
import { pciDriverOfModule, readPciDevice, seenOrReadPciDevice, type PciDevice } from "../sysfs/pciDevice.js";
import { bindDevice, type BindEnvironment, type RulesDecision } from "./bindDevice.js";
import { refusedOutcome, type BindOutcome } from "./outcomes.js";

export interface ClaimedBindOptions {
  readonly dryRun: boolean;
  /** Whether some claim (not an exclusion) selects this device. */
  readonly isClaimed: (device: PciDevice) => boolean;
  /** What the udev rules already wrote for this device's event (the udev helper only). */
  readonly rules?: RulesDecision;
  /**
   * The device as the caller has just read it (the udev helper reads it to select the
   * claim), so that it is not read again before the lock; under the lock bindDevice always
   * reads it afresh.
   */
  readonly device?: PciDevice;
}

/**
 * Every VFIO driver loaded now. The one the device is on counts when the kernel shows it is
 * a VFIO driver (the device has a vfio-dev node): a variant removed from the module index
 * stays one while it is loaded, and the override naming it is still ours.
 */
function loadedVfioDrivers(env: BindEnvironment, device: PciDevice): Set<string> {
  const modules = new Set(env.aliasSet.aliases.map((a) => a.module));
  const drivers = new Set<string>();
  for (const module of modules) {
    const driver = pciDriverOfModule(env.sysfsRoot, module);
    if (driver !== null) drivers.add(driver);
  }
  if (device.hasVfioDev && device.driver !== null) drivers.add(device.driver);
  return drivers;
}

export async function bindClaimed(
  address: string,
  claim: Claim,
  env: BindEnvironment,
  options: ClaimedBindOptions,
): Promise<BindOutcome[]> {
  const device = seenOrReadPciDevice(env.sysfsRoot, address, options.device);
  const peers = device.iommuGroupPeers.map((peer) => readPciDevice(env.sysfsRoot, peer));

  // The drivers a claim may move it to: every VFIO driver loaded now (read only when an override is set).
  const override = foreignOverrideRefusal(device, options.rules?.driver ?? null, () => loadedVfioDrivers(env, device));
  if (override !== null) return [refusedOutcome(address, override)];
  if (claim.group === "check") {
    const refusal = groupCheckRefusal(device, peers, options.isClaimed);
    if (refusal !== null) return [refusedOutcome(address, refusal)];
  }
  const request = {
    dryRun: options.dryRun,
    force: claim.force,
    noFallback: false,
    ...(claim.driver !== "auto" ? { driver: claim.driver } : {}),
  };
  const rules = options.rules === undefined ? {} : { rules: options.rules };
  const outcomes = [await bindDevice({ address, ...request, ...rules, seen: device }, env)];
  if (claim.group === "bind") {
    for (const peer of peers.filter(isGroupEndpoint)) {
      // Peers take the best driver for themselves; a pinned variant may not fit them.
      outcomes.push(
        await bindDevice({ address: peer.address, dryRun: options.dryRun, force: claim.force, noFallback: false }, env),
      );
    }
  }
  return outcomes;
}
