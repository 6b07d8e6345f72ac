/**
 * Which claim selects a device, if any. Pure. An exclusion that matches wins over every
 * claim; otherwise the first matching claim in reading order (file name, then line)
 * decides the options, so adding a later file never changes what an earlier one said.
 */
import { fnmatch } from "../alias/fnmatch.js";
import type { Claim, ClaimConfig, Exclusion, Selectors } from "../config/claimConfig.js";
import type { PciDevice } from "../sysfs/pciDevice.js";

export type DeviceFacts = Pick<
  PciDevice,
  "address" | "vendor" | "device" | "subsystemVendor" | "subsystemDevice" | "classCode" | "sriov"
>;

export function selectorsMatch(selectors: Selectors, device: DeviceFacts): boolean {
  if (selectors.addresses.length > 0 && !selectors.addresses.some((glob) => fnmatch(glob, device.address)))
    return false;
  if (
    selectors.ids.length > 0 &&
    !selectors.ids.some(
      (id) =>
        id.vendor === device.vendor &&
        id.device === device.device &&
        (id.subsystemVendor === undefined ||
          (id.subsystemVendor === device.subsystemVendor && id.subsystemDevice === device.subsystemDevice)),
    )
  ) {
    return false;
  }
  if (selectors.classes.length > 0 && !selectors.classes.some((prefix) => device.classCode.startsWith(prefix)))
    return false;
  if (selectors.vfsOf.length > 0) {
    const sriov = device.sriov;
    if (sriov.role !== "vf" || !selectors.vfsOf.includes(sriov.physfn)) return false;
  }
  return true;
}

export type Selection =
  | { readonly kind: "claimed"; readonly claim: Claim }
  | { readonly kind: "excluded"; readonly exclusion: Exclusion }
  | { readonly kind: "unclaimed" };

export function selectClaim(config: Pick<ClaimConfig, "claims" | "exclusions">, device: DeviceFacts): Selection {
  const exclusion = config.exclusions.find((e) => selectorsMatch(e.selectors, device));
  if (exclusion !== undefined) return { kind: "excluded", exclusion };
  const claim = config.claims.find((c) => selectorsMatch(c.selectors, device));
  return claim === undefined ? { kind: "unclaimed" } : { kind: "claimed", claim };
}
