/**
 * Binding a device because a claim selects it: the claim's options applied to `bind`, and
 * its IOMMU group policy. A VM can open a group only when every endpoint in it is on a
 * VFIO driver (or unbound), so:
 *   ignore  bind the device alone;
 *   check   refuse while another endpoint of the group sits on a host driver, unless a
 *           claim selects that one too (its own event binds it);
 *   bind    bind every other endpoint of the group as well (bridges are left alone).
 */
import type { Claim } from "../config/claimConfig.js";
import { readPciDevice, type PciDevice } from "../sysfs/pciDevice.js";
import { bindDevice, type BindEnvironment, type BindOutcome } from "./bindDevice.js";

export interface ClaimedBindOptions {
  readonly dryRun: boolean;
  /** Whether some claim (not an exclusion) selects this device. */
  isClaimed(device: PciDevice): boolean;
}

function onHostDriver(device: PciDevice): boolean {
  return device.headerKind === "endpoint" && device.driver !== null && !device.hasVfioDev;
}

export async function bindClaimed(
  address: string,
  claim: Claim,
  env: BindEnvironment,
  options: ClaimedBindOptions,
): Promise<BindOutcome[]> {
  const device = readPciDevice(env.sysfsRoot, address);
  const request = {
    dryRun: options.dryRun,
    force: claim.force,
    noFallback: false,
    ...(claim.driver !== "auto" ? { driver: claim.driver } : {}),
  };
  const peers = device.iommuGroupPeers.map((peer) => readPciDevice(env.sysfsRoot, peer));

  if (claim.group === "check") {
    const blocking = peers.filter((peer) => onHostDriver(peer) && !options.isClaimed(peer));
    if (blocking.length > 0) {
      const names = blocking.map((peer) => `${peer.address} (${peer.driver})`).join(", ");
      const message = `${address}: refused: IOMMU group ${device.iommuGroup} also holds ${names} on a host driver, so no VM could use it; claim ${blocking.length === 1 ? "it" : "them"} too, or set Group=bind`;
      return [refusal(address, message)];
    }
  }
  const outcomes = [await bindDevice({ address, ...request }, env)];
  if (claim.group === "bind") {
    for (const peer of peers.filter((p) => p.headerKind === "endpoint")) {
      // Peers take the best driver for themselves; a pinned variant may not fit them.
      outcomes.push(
        await bindDevice({ address: peer.address, dryRun: options.dryRun, force: claim.force, noFallback: false }, env),
      );
    }
  }
  return outcomes;
}

function refusal(address: string, message: string): BindOutcome {
  return {
    address,
    status: "refused",
    module: null,
    driver: null,
    rank: null,
    candidates: [],
    attempts: [],
    verdict: null,
    restore: null,
    plan: [],
    message,
  };
}
