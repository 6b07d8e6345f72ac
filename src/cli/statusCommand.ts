/**
 * `status`: the devices vfio-autobind has bound or holds, their VFIO nodes and who holds
 * them, and everything not applied yet (claimed devices back on a host driver included). Its
 * exit code says whether the machine follows the claims (src/binder/outcomes.ts).
 */
import { claimsOutcome, EXIT_STATUS_HELP, type CommandOutcome } from "../binder/outcomes.js";
import { type CommandContext, defineCommand } from "./commandContext.js";
import { formatTable } from "./formatTable.js";
import { readStatus } from "./statusModel.js";

export function runStatus(context: CommandContext): CommandOutcome {
  const { rows, heldRows, claimed, pending, problems, findings } = readStatus(context);
  if (context.json) {
    const { rules: staleRules, initramfs: staleInitramfs, onHostDriver, driverChanges } = pending;
    context.output.out(
      `${JSON.stringify({ devices: rows, held: heldRows, claimed, staleRules, staleInitramfs, onHostDriver, driverChanges, problems }, null, 2)}\n`,
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
  return claimsOutcome(findings, true);
}

export const statusCommand = defineCommand({
  command: "status",
  describe:
    "show the devices vfio-autobind has bound, and what is not applied yet; exit 0 when the machine follows the claims",
  options: (y) => y.epilogue(EXIT_STATUS_HELP),
  handler: (context) => runStatus(context),
});
