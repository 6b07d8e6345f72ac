/**
 * Claimed devices that vfio-autobind bound and that are now on a host driver. libvirt's
 * `virsh nodedev-reattach`, and a managed='yes' hostdev when its VM stops, clear
 * driver_override and hand the device to its host driver with bind/unbind uevents only,
 * never `add`, so the udev rules do not take it again (they must not: the tool never fights
 * libvirt). The machine then does not follow the claims: `status` and `check` say so, and
 * `apply` takes the device back. Pure.
 */
import type { BindRecord } from "../binder/stateStore.js";
import type { ClaimConfig } from "../config/claimConfig.js";
import type { PciDevice } from "../sysfs/pciDevice.js";
import { selectClaim, type DeviceFacts } from "./selectClaim.js";

export interface ClaimedOnHostDriver {
  readonly address: string;
  /** The host driver it is on now. */
  readonly driver: string;
  /**
   * When vfio-autobind bound it, and to which VFIO driver (its record): it moved after that.
   * The kernel keeps no time for a bind, and the mtime of a sysfs `driver` link is when the
   * link was first looked at, not when it was made, so this bound is all that is known.
   */
  readonly boundAt: string;
  readonly boundTo: string;
}

/** What a bind record tells here. */
export type BoundRecord = Pick<BindRecord, "address" | "status" | "driver" | "time">;

export function claimedOnHostDriver(
  config: ClaimConfig,
  devices: readonly (DeviceFacts & Pick<PciDevice, "driver" | "hasVfioDev">)[],
  records: readonly BoundRecord[],
): ClaimedOnHostDriver[] {
  if (config.errors.length > 0) return [];
  const recorded = new Map(records.map((r) => [r.address, r]));
  return devices.flatMap((device) => {
    const record = recorded.get(device.address);
    // A bind that did not finish, a device with no driver (a hold) and one on a VFIO driver
    // (vfio-dev/ exists) are other states, each reported on its own.
    if (record?.status !== "bound" || record.driver === null) return [];
    if (device.driver === null || device.hasVfioDev) return [];
    if (selectClaim(config, device).kind !== "claimed") return [];
    return [{ address: device.address, driver: device.driver, boundAt: record.time, boundTo: record.driver }];
  });
}

/** The line `status` and `check` print for one such device. */
export function claimedOnHostDriverLine(found: ClaimedOnHostDriver): string {
  return `${found.address}: claimed, but on ${found.driver} since some time after ${found.boundAt}, when vfio-autobind bound it to ${found.boundTo} (the kernel keeps no time for a bind); run "vfio-autobind apply" to take it back, or unclaim it`;
}
