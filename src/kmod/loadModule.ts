/**
 * Loading a kernel module with modprobe(8), through execa with an argument vector (never a
 * shell) and a deadline, so a hung load cannot outlive udev's event timeout.
 */
import { RuntimeFailure } from "../errors.js";
import { isSafeModuleName } from "../paths.js";
import { loadExeca } from "../process/lazyExeca.js";

export class ModuleLoadError extends RuntimeFailure {
  override readonly name = "ModuleLoadError";
}

export async function modprobe(module: string, timeoutMs: number, command = "modprobe"): Promise<void> {
  const execa = await loadExeca();
  if (!isSafeModuleName(module))
    throw new ModuleLoadError(`refusing to load ${JSON.stringify(module)}: not a module name`);
  const result = await execa(command, ["--", module], { reject: false, timeout: timeoutMs, stdin: "ignore" });
  if (result.timedOut)
    throw new ModuleLoadError(`modprobe ${module} timed out after ${Math.round(timeoutMs / 1000)} s`);
  if (result.failed) {
    const detail = result.stderr.trim().split("\n").pop() || result.shortMessage;
    throw new ModuleLoadError(`modprobe ${module} failed: ${detail}`);
  }
}
