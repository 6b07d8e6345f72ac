/**
 * `status`: the devices vfio-autobind has bound or holds, their VFIO nodes and who holds
 * them, and everything not applied yet (claimed devices back on a host driver included). Its
 * exit code says whether the machine follows the claims (src/binder/outcomes.ts).
 */
import * as fs from "node:fs";
import { claimsExitCode, EXIT_STATUS_HELP } from "../binder/outcomes.js";
import { listRecords } from "../binder/stateStore.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import { HOLD_OVERRIDE, isHold } from "../policy/hold.js";
import { selectClaim } from "../policy/selectClaim.js";
import { deviceExists, readBoundDriver, readPciDevice } from "../sysfs/pciDevice.js";
import { vfioFactsOf } from "../sysfs/vfioHolders.js";
import { type CommandContext, defineCommand } from "./commandContext.js";
import { formatTable } from "./formatTable.js";
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

export function runStatus(context: CommandContext): void {
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
  if (context.json) {
    const { rules: staleRules, initramfs: staleInitramfs, onHostDriver, driverChanges } = pending;
    const claimed = claimedDevices(context, config, rows);
    context.output.out(
      `${JSON.stringify({ devices: rows, held: heldRows, claimed, staleRules, staleInitramfs, onHostDriver, driverChanges, problems }, null, 2)}
`,
    );
  } else {
    context.output.out(
      rows.length === 0
        ? `no devices bound by vfio-autobind (records in ${context.stateDir})\n`
        : formatTable(
            ["ADDRESS", "DRIVER", "MODULE", "WAS", "SINCE", "VFIO NODES", "OWNER", "HELD BY", "NOTE"],
            rows.map((r) => [
              r.address,
              r.now,
              r.module ?? "-",
              r.originalDriver ?? "(none)",
              r.time,
              [r.groupNode, r.cdev].filter((n) => n !== null).join(" ") || "-",
              r.owner === null && r.mode === null
                ? "-"
                : [
                    r.owner === null ? "" : `${r.owner.user}${r.owner.group === null ? "" : `:${r.owner.group}`}`,
                    r.mode ?? "",
                  ]
                    .filter((x) => x !== "")
                    .join(" "),
              r.holders.length === 0 ? "-" : r.holders.map((h) => `${h.command}(${h.pid})`).join(" "),
              r.note,
            ]),
          ),
    );
    for (const h of heldRows) context.output.out(`${h.address}: held; ${h.note}\n`);
    for (const line of pending.lines) context.output.err(`vfio-autobind: ${line}\n`);
  }
  for (const problem of problems) context.output.err(`vfio-autobind: ${problem}\n`);
  // The machine follows the claims when nothing above is pending: no stale rules or
  // initramfs, no device waiting in a hold, every bound device still on its driver, no
  // claimed device on a host driver.
  const unfinished = [...rows.filter((r) => r.now !== GONE && r.note !== ""), ...heldRows];
  context.exitCode = claimsExitCode(
    {
      invalid: config.errors.length > 0 || problems.length > 0,
      notApplied: [...pending.lines, ...unfinished.map((r) => `${r.address}: ${r.note}`)],
    },
    true,
  );
}

export const statusCommand = defineCommand({
  command: "status",
  describe:
    "show the devices vfio-autobind has bound, and what is not applied yet; exit 0 when the machine follows the claims",
  options: (y) => y.epilogue(EXIT_STATUS_HELP),
  handler: (context) => runStatus(context),
});
