/** `claims`: the claims and exclusions, and the devices each selects now. Read-only. */
import * as path from "node:path";
import { completed, type CommandOutcome } from "../binder/outcomes.js";
import { formatConfigError, type Selectors } from "../config/claimConfig.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import { selectorsMatch } from "../policy/selectClaim.js";
import { type CommandContext, defineCommand } from "./commandContext.js";
import { formatTable } from "./formatTable.js";
import { presentDevices } from "./machineConfig.js";

export function runClaims(context: CommandContext): CommandOutcome {
  const config = readClaimConfig(context.configDir);
  const present = presentDevices(context.sysfsRoot);
  const describe = (s: Selectors): string =>
    [
      ...s.addresses.map((a) => `address ${a}`),
      ...s.ids.map(
        (i) =>
          `ids ${i.vendor}:${i.device}${i.subsystemVendor === undefined ? "" : `:${i.subsystemVendor}:${i.subsystemDevice}`}`,
      ),
      ...s.classes.map((c) => `class 0x${c}`),
      ...s.vfsOf.map((pf) => `vfs of ${pf}`),
    ].join(", ");
  const entries = [
    ...config.claims.map((c) => ({
      kind: "claim",
      origin: c.origin,
      selectors: c.selectors,
      options: { driver: c.driver, group: c.group, force: c.force },
    })),
    ...config.exclusions.map((e) => ({ kind: "exclude", origin: e.origin, selectors: e.selectors, options: null })),
  ].map((e) => ({ ...e, devices: present.filter((d) => selectorsMatch(e.selectors, d)).map((d) => d.address) }));
  if (context.json) {
    context.output.out(`${JSON.stringify({ claims: entries, errors: config.errors }, null, 2)}\n`);
  } else {
    const rows = entries.map((e) => [
      e.kind,
      `${path.basename(e.origin.file)}:${e.origin.line}`,
      describe(e.selectors),
      e.options === null
        ? "-"
        : `driver=${e.options.driver} group=${e.options.group}${e.options.force ? " force" : ""}`,
      e.devices.join(" ") || "(none present)",
    ]);
    context.output.out(
      rows.length === 0
        ? `no claims in ${context.configDir}\n`
        : formatTable(["KIND", "WHERE", "SELECTS", "OPTIONS", "DEVICES NOW"], rows),
    );
  }
  for (const error of config.errors) context.output.err(`vfio-autobind: ${formatConfigError(error)}\n`);
  return completed(config.errors.length > 0);
}

export const claimsCommand = defineCommand({
  command: "claims",
  describe: "list the claims and exclusions, and the devices each selects now",
  options: (y) => y,
  handler: (context) => runClaims(context),
});
