/**
 * What `status` reports, as data: the devices vfio-autobind has bound (from their records)
 * or holds, their VFIO nodes and who holds them, the claimed devices present, what is not
 * applied yet, and the findings its exit code comes from.
 */
import * as fs from "node:fs";
import type { ClaimsFindings } from "../binder/outcomes.js";
import { listRecords } from "../binder/stateStore.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import { HOLD_OVERRIDE, isHold } from "../policy/hold.js";
import { selectClaim } from "../policy/selectClaim.js";
import { deviceExists, readBoundDriver, readPciDevice } from "../sysfs/pciDevice.js";
import { vfioFactsOf } from "../sysfs/vfioHolders.js";
import type { CommandContext } from "./commandContext.js";
import { presentDevices } from "./machineConfig.js";
import { notAppliedYet } from "./notApplied.js";

/** What status shows for a recorded device that is no longer there. */
const GONE = "(device gone)";

/** Owner, group and mode of a node as it is now (`root:root 0600`), or null when there is none. */
function nodeOwnership(node: string | null): { uid: number; gid: number; mode: string } | null {
  if (node === null) return null;
  try {
    const stat = fs.statSync(node);
    return { uid: stat.uid, gid: stat.gid, mode: (stat.mode & 0o7777).toString(8).padStart(4, "0") };
  } catch {
    return null;
  }
}

/**
 * Every device present that a claim selects now, with the driver it is on and whether
 * vfio-autobind bound it there (a record, and the device still on the record's driver):
 * what a config management tool checks after `apply` to tell a host that follows its
 * claims. Empty when the config has errors (nothing is claimed then).
 */
function claimedDevices(
  context: CommandContext,
  config: ReturnType<typeof readClaimConfig>,
  rows: readonly { address: string; state: string; driver: string | null; now: string }[],
): { address: string; driver: string | null; bound: boolean }[] {
  if (config.errors.length > 0) return [];
  return presentDevices(context.sysfsRoot)
    .filter((device) => selectClaim(config, device).kind === "claimed")
    .map((device) => {
      const row = rows.find((r) => r.address === device.address);
      return {
        address: device.address,
        driver: device.driver,
        bound: row !== undefined && row.state === "bound" && row.now === row.driver,
      };
    });
}

/** Everything status reports, read from the records, sysfs, the config and the installed files. */
export function readStatus(context: CommandContext) {
  const { records, problems } = listRecords(context.stateDir);
  const config = readClaimConfig(context.configDir);
  const rows = records.map((r) => {
    const present = deviceExists(context.sysfsRoot, r.address);
    const now = present ? (readBoundDriver(context.sysfsRoot, r.address) ?? "(none)") : GONE;
    const note = r.status === "binding" ? "bind did not finish" : now !== r.driver ? `expected ${r.driver}` : "";
    const device = present ? readPciDevice(context.sysfsRoot, r.address) : null;
    const vfio = device === null ? null : vfioFactsOf(context.sysfsRoot, context, device);
    const selection = device === null || config.errors.length > 0 ? null : selectClaim(config, device);
    const claim = selection?.kind === "claimed" ? selection.claim : null;
    return {
      ...r,
      state: r.status === "binding" ? ("binding" as const) : ("bound" as const),
      now,
      note,
      groupNode: vfio?.groupNode ?? null,
      cdev: vfio?.cdev ?? null,
      cdevSysfs: vfio?.cdevSysfs ?? null,
      holders: vfio?.holders ?? [],
      // What the claim asks for (Owner=, Mode=), and what the nodes have now.
      owner: claim?.owner ?? null,
      mode: claim?.mode ?? null,
      groupNodeOwnership: nodeOwnership(vfio?.groupNode ?? null),
      cdevOwnership: nodeOwnership(vfio?.cdev ?? null),
    };
  });
  // Held for us and not bound (the helper has not finished, or failed and could not clear it):
  // no record yet, so they are found in sysfs.
  const recorded = new Set(records.map((r) => r.address));
  const heldRows = presentDevices(context.sysfsRoot)
    .filter((d) => !recorded.has(d.address) && d.driver === null && isHold(d.driverOverride))
    .map((d) => ({
      address: d.address,
      state: "held" as const,
      now: "(held)",
      note: `driver_override is ${HOLD_OVERRIDE}: no driver can take it until vfio-autobind binds it or "vfio-autobind release ${d.address}"`,
    }));
  const pending = notAppliedYet(context, config);
  // The machine follows the claims when nothing here is pending: no stale rules or
  // initramfs, no device waiting in a hold, every bound device still on its driver, no
  // claimed device on a host driver.
  const unfinished = [...rows.filter((r) => r.now !== GONE && r.note !== ""), ...heldRows];
  const findings: ClaimsFindings = {
    invalid: config.errors.length > 0 || problems.length > 0,
    notApplied: [...pending.lines, ...unfinished.map((r) => `${r.address}: ${r.note}`)],
  };
  return { rows, heldRows, claimed: claimedDevices(context, config, rows), pending, problems, findings };
}
