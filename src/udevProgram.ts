/**
 * `vfio-autobind udev-event` as a program: the udev helper with the real kernel, and one
 * line for anything it did not catch. Shared by src/program.ts (every command) and the
 * bundle's udev entry (src/udevMain.ts), which must not import the command line.
 */
import { type Adapters, realKernelIo } from "./binder/kernelIo.js";
import { EXIT_CODES } from "./binder/outcomes.js";

/** The real kernel: sysfs writes and modprobe. */
export const REAL_ADAPTERS: Adapters = { kernelIo: () => realKernelIo };

/** What the bundle's udev entry runs (build.mjs embeds this module's bundle, src/udevMain.ts loads it). */
export interface UdevProgram {
  run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number>;
}

export const udevProgram: UdevProgram = { run: (argv, env) => runUdevEvent(argv, env, REAL_ADAPTERS) };

/** Runs one udev event (`argv` after `udev-event`); resolves to the exit code. */
export async function runUdevEvent(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  adapters: Adapters,
): Promise<number> {
  try {
    const { runUdevHelper } = await import("./udev/udevHelperProcess.js");
    return await runUdevHelper(argv, env, adapters);
  } catch (error) {
    return unexpected(error);
  }
}

export function unexpected(error: unknown): number {
  process.stderr.write(`vfio-autobind: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT_CODES.failure;
}
