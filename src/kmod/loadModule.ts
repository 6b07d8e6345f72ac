/**
 * Loading a kernel module with modprobe(8), through execa with an argument vector (never a
 * shell) and a deadline, so a hung load cannot outlive udev's event timeout.
 */
import { RuntimeFailure } from "../errors.js";

const MODULE_NAME = /^[A-Za-z0-9_-]+$/;

export class ModuleLoadError extends RuntimeFailure {
  override readonly name = "ModuleLoadError";
}

export function isValidModuleName(name: string): boolean {
  return MODULE_NAME.test(name);
}

export async function modprobe(module: string, timeoutMs: number, command = "modprobe"): Promise<void> {
  // Loaded on first use: execa's start-up is a third of Node's own under --jitless, and
  // the udev path that only decides never spawns anything.
  const { execa } = await import("execa");
  if (!isValidModuleName(module))
    throw new ModuleLoadError(`refusing to load ${JSON.stringify(module)}: not a module name`);
  const result = await execa(command, ["--", module], { reject: false, timeout: timeoutMs, stdin: "ignore" });
  if (result.timedOut)
    throw new ModuleLoadError(`modprobe ${module} timed out after ${Math.round(timeoutMs / 1000)} s`);
  if (result.failed) {
    const detail = result.stderr.trim().split("\n").pop() || result.shortMessage;
    throw new ModuleLoadError(`modprobe ${module} failed: ${detail}`);
  }
}
