/**
 * Issue scenarios 1 and 2, after the fact: udev's coldplug has run with the claims and
 * generated rules that were in the guest before boot (host/bootFiles.ts), and main.ts
 * has recorded the "boot" snapshot (devices, the tool's journal lines, udevd's lines about
 * the helper). This scenario adds what a snapshot does not hold: whether the tool agrees
 * that the rules match the claims, which devices udev marked as claimed, the bind
 * records the helper wrote, and the bus numbers the layout's addresses rely on.
 */
import * as fs from "node:fs";
import { rootPorts } from "../../shared/machineLayout.js";
import { GUEST_CONFIG_DIR, GUEST_RULES_FILE } from "../../shared/udevClaims.js";
import { runTool, type CommandRun } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";

export interface UdevBootResult {
  /** `vfio-autobind check`: the rules written on the host must be up to date for the tool. */
  readonly check: CommandRun;
  readonly rulesText: string;
  readonly configFiles: readonly string[];
  /** The bind records under /run/vfio-autobind/devices, by address. */
  readonly records: Readonly<Record<string, unknown>>;
  /** Each root port's secondary_bus_number, by port address. */
  readonly portBuses: Readonly<Record<string, number | null>>;
}

export const udevBoot = defineScenario<UdevBootResult>({
  name: "udev-boot",
  run({ log }) {
    const portBuses: Record<string, number | null> = {};
    for (const port of Object.values(rootPorts)) {
      const text = readOrNull(`/sys/bus/pci/devices/${port.address}/secondary_bus_number`);
      portBuses[port.address] = text === null ? null : Number(text.trim());
    }
    return {
      check: runTool(log, ["check"]),
      rulesText: fs.readFileSync(GUEST_RULES_FILE, "utf8"),
      configFiles: fs.readdirSync(GUEST_CONFIG_DIR).sort(),
      records: readRecords(),
      portBuses,
    };
  },
});

export function readRecords(): Record<string, unknown> {
  const dir = "/run/vfio-autobind/devices";
  const records: Record<string, unknown> = {};
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".json")) : []) {
    records[name.slice(0, -".json".length)] = JSON.parse(fs.readFileSync(`${dir}/${name}`, "utf8")) as unknown;
  }
  return records;
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}
