/**
 * Claims that select a device the host uses now (policy/safetyVerdict.ts claimInUseRefusal),
 * as config errors at each claim's line. Reads what is under each claimed device and /proc;
 * the devices are the ones present, so a chroot or an image build, with none, has none.
 */
import type { ConfigError } from "../config/claimConfig.js";
import type { LoadedConfig } from "../config/readClaimConfig.js";
import { claimInUseRefusal } from "../policy/safetyVerdict.js";
import { selectClaim } from "../policy/selectClaim.js";
import { findHostUses } from "../sysfs/hostUsage.js";
import type { PciDevice } from "../sysfs/pciDevice.js";

export function inUseClaimErrors(
  config: Pick<LoadedConfig, "claims" | "exclusions">,
  devices: readonly PciDevice[],
  procRoot: string,
): ConfigError[] {
  const found: { order: number; error: ConfigError }[] = [];
  for (const device of devices) {
    const selection = selectClaim(config, device);
    // Force=yes takes the device whatever the host does with it: nothing to look for.
    if (selection.kind !== "claimed" || selection.claim.force) continue;
    const refusal = claimInUseRefusal(device, findHostUses(device.path, procRoot), false);
    const order = config.claims.indexOf(selection.claim);
    if (refusal !== null) found.push({ order, error: { ...selection.claim.origin, message: refusal } });
  }
  // In the order the claims are read, as the admin reads the files.
  return found.sort((a, b) => a.order - b.order).map((f) => f.error);
}
