/** `list`: every PCI device, one row each, with its best VFIO module. Read-only. */
import { completed, type CommandOutcome } from "../binder/outcomes.js";
import { buildExplanation, deviceJson } from "../explain/buildExplanation.js";
import { readModulePolicy } from "../kmod/readModulePolicy.js";
import { readVfioAliases } from "../kmod/readVfioAliases.js";
import { formatPciNames, lookupPciNames } from "../pciids/pciIdsNames.js";
import { readPciIds } from "../pciids/readPciIds.js";
import { RuntimeFailure } from "../errors.js";
import { listPciDeviceNames, pciDriverOfModule, readPciDevice } from "../sysfs/pciDevice.js";
import { type CommandContext, defineCommand, warn } from "./commandContext.js";
import { formatTable } from "./formatTable.js";

export function runList(context: CommandContext): CommandOutcome {
  const aliasSet = readVfioAliases(context.modulesDir, { lineNumbers: false });
  warn(
    context,
    aliasSet.warnings.map((w) => w.message),
  );
  const modules = readModulePolicy(context.modprobeRoot, context.procRoot);
  warn(context, modules.warnings);
  const pciIds = readPciIds();
  const driverOf = (module: string): string | null => pciDriverOfModule(context.sysfsRoot, module);

  const rows: Record<string, unknown>[] = [];
  const table: string[][] = [];
  const problems: string[] = [];
  for (const address of listPciDeviceNames(context.sysfsRoot)) {
    let device;
    try {
      device = readPciDevice(context.sysfsRoot, address);
    } catch (error) {
      // One odd device must not hide the others: report it and carry on.
      if (!(error instanceof RuntimeFailure)) throw error;
      problems.push(error.message);
      table.push([address, "?", "?", "?", "?", "?", "unreadable (see error below)"]);
      rows.push({ address, best: null, error: error.message });
      continue;
    }
    const name =
      pciIds === null ? null : formatPciNames(lookupPciNames(pciIds, device.vendor, device.device, device.classCode));
    const explanation = buildExplanation(device, aliasSet, driverOf, name, modules.policy);
    rows.push({ ...deviceJson(device, name), best: explanation.best });
    table.push([
      device.address,
      `${device.vendor}:${device.device}`,
      device.classCode.slice(0, 4),
      device.driver ?? "-",
      device.iommuGroup ?? "-",
      explanation.best?.module ?? "-",
      name ?? "",
    ]);
  }

  if (context.json) context.output.out(`${JSON.stringify(rows, null, 2)}\n`);
  else context.output.out(formatTable(["ADDRESS", "ID", "CLASS", "DRIVER", "GROUP", "BEST", "NAME"], table));
  for (const problem of problems) context.output.err(`vfio-autobind: ${problem}\n`);
  return completed(problems.length > 0);
}

export const listCommand = defineCommand({
  command: "list",
  describe: "list every PCI device with its driver, IOMMU group and best VFIO module",
  options: (y) => y.example("$0 list", "show all PCI devices").example("$0 list --json", "the same as a JSON array"),
  handler: (context) => runList(context),
});
