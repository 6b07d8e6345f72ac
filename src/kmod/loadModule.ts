/**
 * Loading a kernel module with modprobe(8), with an argument vector (never a shell) and a
 * deadline, so a hung load cannot outlive udev's event timeout. Through runCommand, not
 * execa: this runs in the udev helper, where execa's load is the largest cost (runCommand.ts).
 */
import { RuntimeFailure } from "../errors.js";
import { isSafeModuleName } from "../paths.js";
import { runCommand, succeededCommand } from "../process/runCommand.js";

export class ModuleLoadError extends RuntimeFailure {
  override readonly name = "ModuleLoadError";
}

export async function modprobe(module: string, timeoutMs: number, command = "modprobe"): Promise<void> {
  if (!isSafeModuleName(module))
    throw new ModuleLoadError(`refusing to load ${JSON.stringify(module)}: not a module name`);
  const result = await runCommand(command, ["--", module], { timeoutMs });
  if (result.timedOut)
    throw new ModuleLoadError(`modprobe ${module} timed out after ${Math.round(timeoutMs / 1000)} s`);
  if (!succeededCommand(result)) {
    const detail = result.stderr.trim().split("\n").pop() || result.shortMessage;
    throw new ModuleLoadError(`modprobe ${module} failed: ${detail}`);
  }
}
