/** The observation every binding scenario makes: the device, the command, the device again. */
import type { DeviceState } from "../../shared/protocol.js";
import { readDevice, runTool, vfioGroupNodeExists, type CommandRun, type GuestLog } from "../guestSystem.js";

export interface ToolStep {
  readonly before: DeviceState;
  readonly run: CommandRun;
  readonly after: DeviceState;
  /** `/dev/vfio/<group>` exists after the command. */
  readonly vfioGroupNode: boolean;
}

export function toolStep(log: GuestLog, address: string, args: readonly string[]): ToolStep {
  const before = readDevice(address);
  const run = runTool(log, args);
  const after = readDevice(address);
  return { before, run, after, vfioGroupNode: vfioGroupNodeExists(after.iommuGroup) };
}

export const bindStep = (log: GuestLog, address: string, ...options: string[]): ToolStep =>
  toolStep(log, address, ["bind", address, "--json", ...options]);

export const releaseStep = (log: GuestLog, address: string, ...options: string[]): ToolStep =>
  toolStep(log, address, ["release", address, "--json", ...options]);
