/**
 * The scenarios one guest boot runs, in this order. Each uses its own devices (see
 * shared/machineLayout.ts), so one failing leaves the others' devices alone. A new
 * scenario is a file here, one line in this list, and a test/vm/*.test.ts that asserts on
 * its result through scenarioResult(name).
 *
 * Before any of these runs, main.ts records a "boot" snapshot (every device's driver and
 * override, the tool's journal lines, udevd's lines about the helper) once udev's
 * coldplug has settled, and a "final" one after the last.
 *
 * The udev scenarios come right after tool-runs, before the CLI scenarios: the claims
 * they use were in place at boot (shared/udevClaims.ts), and their `apply` runs would
 * otherwise release the devices the CLI scenarios bound by hand (apply releases every
 * device vfio-autobind holds a record for that no claim selects). Their order matters:
 * udev-sriov's apply must be the first apply (it sets sriov_drivers_autoprobe), and
 * udev-trigger's triggers cover every device claimed by the ones before.
 */
import type { Scenario } from "../scenario.js";
import { besideLibvirt } from "./besideLibvirt.js";
import { bindVariant } from "./bindVariant.js";
import { driverctlBoot, driverctlCompare } from "./driverctlCompare.js";
import { driverMoves } from "./driverMoves.js";
import { packageMoves } from "./packageMoves.js";
import { packageUpgrade } from "./packageUpgrade.js";
import { failingVariant } from "./failingVariant.js";
import { hotplug } from "./hotplug.js";
import { nvmeHostDriver } from "./nvmeHostDriver.js";
import { sriovVfs } from "./sriovVfs.js";
import { toolRuns } from "./toolRuns.js";
import { udevBoot } from "./udevBoot.js";
import { udevHotplug } from "./udevHotplug.js";
import { udevSriov } from "./udevSriov.js";
import { udevTrigger } from "./udevTrigger.js";
import { vfioHolders } from "./vfioHolders.js";
import { vfioOwnership } from "./vfioOwnership.js";
import { vfioOwnershipAccounts } from "./vfioOwnershipAccounts.js";

export const scenarios: readonly Scenario[] = [
  toolRuns,
  udevBoot,
  udevHotplug,
  udevSriov,
  udevTrigger,
  bindVariant,
  nvmeHostDriver,
  vfioHolders,
  vfioOwnership,
  vfioOwnershipAccounts,
  failingVariant,
  driverMoves,
  packageMoves,
  packageUpgrade,
  sriovVfs,
  hotplug,
  besideLibvirt,
];

/** The comparison boots' scenarios, by boot name (shared/driverctlCompare.ts). */
export const compareScenarios: Readonly<Record<string, readonly Scenario[]>> = {
  "compare-ours": [driverctlCompare],
  "compare-driverctl": [driverctlBoot],
};
