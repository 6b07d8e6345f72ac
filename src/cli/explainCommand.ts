/** `explain DEVICE`: the device, every matching VFIO alias in rank order and why, the winner. */
import {
  buildExplanation,
  describeSriov,
  explanationJson,
  formatOrigin,
  type Explanation,
} from "../explain/buildExplanation.js";
import { completed, type CommandOutcome } from "../binder/outcomes.js";
import { describeForbidden } from "../kmod/modulePolicy.js";
import { readModulePolicy } from "../kmod/readModulePolicy.js";
import { readVfioAliases } from "../kmod/readVfioAliases.js";
import { formatPciNames, lookupPciNames } from "../pciids/pciIdsNames.js";
import { readPciIds } from "../pciids/readPciIds.js";
import { quoteForDisplay } from "../text/safeText.js";
import { pciDriverOfModule, readPciDevice } from "../sysfs/pciDevice.js";
import { describeHolders, describeVfioNodes, vfioFactsOf } from "../sysfs/vfioHolders.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import { type CommandContext, defineCommand, warn } from "./commandContext.js";
import { resolveDeviceArgument, DEVICE_ARGUMENT } from "./deviceArgument.js";
import { driverChangeOf } from "./notApplied.js";

export function runExplain(context: CommandContext, deviceArgument: string): CommandOutcome {
  const address = resolveDeviceArgument(context, deviceArgument);
  const device = readPciDevice(context.sysfsRoot, address);
  const aliasSet = readVfioAliases(context.modulesDir, { lineNumbers: true });
  // explain lists the malformed lines itself; the other warnings still go to stderr.
  warn(
    context,
    aliasSet.warnings.filter((w) => w.kind !== "malformed-lines").map((w) => w.message),
  );
  const modules = readModulePolicy(context.modprobeRoot, context.procRoot);
  warn(context, modules.warnings);
  const pciIds = readPciIds();
  const name =
    pciIds === null ? null : formatPciNames(lookupPciNames(pciIds, device.vendor, device.device, device.classCode));
  const explanation = {
    ...buildExplanation(device, aliasSet, (m) => pciDriverOfModule(context.sysfsRoot, m), name, modules.policy),
    vfio: vfioFactsOf(context.sysfsRoot, context, device),
    driverChange: driverChangeOf(context, readClaimConfig(context.configDir), device),
  };
  context.output.out(
    context.json ? `${JSON.stringify(explanationJson(explanation), null, 2)}\n` : formatExplanation(explanation),
  );
  return completed();
}

/** How much of a skipped line explain shows (an index line may be megabytes, or not text). */
const SKIPPED_SHOWN_LENGTH = 100;

export function formatExplanation(e: Explanation): string {
  const d = e.device;
  const lines: string[] = [];
  lines.push(`${d.address}  ${d.vendor}:${d.device}${e.name === null ? "" : `  ${e.name}`}`);
  const field = (label: string, value: string): void => {
    lines.push(`  ${label.padEnd(12)} ${value}`);
  };
  field("subsystem", `${d.subsystemVendor}:${d.subsystemDevice}`);
  field("class", d.classCode);
  field("modalias", d.modalias.text);
  field("driver", `${d.driver ?? "none"}${d.hasVfioDev ? " (vfio)" : ""}`);
  field("override", d.driverOverride ?? "none");
  if (e.vfio !== undefined && e.vfio !== null) {
    field("vfio nodes", describeVfioNodes(e.vfio));
    if (e.vfio.cdevSysfs !== null) field("vfio cdev", `${e.vfio.cdevSysfs} (for iommufd VMMs)`);
    field("held by", e.vfio.holders.length === 0 ? "nobody" : describeHolders(e.vfio.holders));
  }
  field(
    "iommu group",
    d.iommuGroup === null
      ? "none (vfio needs one)"
      : d.iommuGroupPeers.length === 0
        ? `${d.iommuGroup} (alone)`
        : `${d.iommuGroup} (with ${d.iommuGroupPeers.join(", ")})`,
  );
  field("sr-iov", describeSriov(d.sriov));
  field("header", d.headerType === null ? "unknown (config unreadable)" : d.headerKind);
  field("numa node", d.numaNode === null ? "-" : String(d.numaNode));
  if (d.bootVga) field("boot vga", "yes");
  lines.push("");
  if (e.candidates.length === 0) {
    lines.push(`No vfio_pci alias matches ${e.matchString}.`);
  } else {
    lines.push(`Candidates for ${e.matchString}, most specific first:`);
    for (const c of e.candidates) {
      lines.push(c.rank === null ? `  -. ${c.module} (skipped)` : `  ${c.rank}. ${c.module}`);
      lines.push(`     pattern  ${c.pattern}`);
      lines.push(
        `     score    ${c.wildcards} wildcard${c.wildcards === 1 ? "" : "s"}, ${c.literals} literal characters`,
      );
      lines.push(`     from     ${formatOrigin(c.origin)}`);
      if (c.belowBecause !== null) lines.push(`     ranked   below: ${c.belowBecause}`);
      if (c.forbidden !== null) lines.push(`     skipped  forbidden by ${describeForbidden(c.forbidden)}`);
      for (const other of c.alsoMatched) lines.push(`     also     ${other} (less specific, same module)`);
    }
  }
  lines.push("");
  if (e.best === null) {
    const allForbidden = e.candidates.length > 0;
    lines.push(
      e.notForVfio !== null
        ? `Best: none: ${e.notForVfio}`
        : allForbidden
          ? "Best: none (every matching module is forbidden)"
          : "Best: none",
    );
  } else {
    const driver =
      e.best.driver === null ? "driver name known once the module is loaded" : `PCI driver ${e.best.driver}`;
    lines.push(`Best: ${e.best.module} (${driver})`);
  }
  if (e.devicePlugins !== null) lines.push(`Note: ${e.devicePlugins}.`);
  if (e.driverChange != null) lines.push(`Change: ${e.driverChange}`);
  if (e.fallback) lines.push("Note: modules.alias could not be read; only the generic vfio_pci module was considered.");
  if (e.skippedCount > 0) {
    lines.push("");
    const shown = e.skipped.length < e.skippedCount ? ` (the first ${e.skipped.length} shown)` : "";
    lines.push(`Skipped ${e.skippedCount} malformed vfio_pci line(s)${shown}:`);
    for (const s of e.skipped) {
      lines.push(`  ${formatOrigin(s.origin)}: ${s.reason}: ${quoteForDisplay(s.text.trim(), SKIPPED_SHOWN_LENGTH)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export const explainCommand = defineCommand({
  command: "explain <device>",
  describe: "show every VFIO driver that matches a device, in rank order, and why",
  options: (y) =>
    y
      .positional("device", DEVICE_ARGUMENT)
      .example("$0 explain 0000:3b:00.2", "rank the VFIO drivers for one device")
      .example("$0 explain /sys/bus/pci/devices/0000:3b:00.2 --json", "the same, as JSON"),
  handler: (context, args) => runExplain(context, args.device),
});
