/**
 * Runs the command line in this process, as src/program.ts's main wires it but with the
 * kernel adapter a test gives, and captures what it prints. Faster than the bundle, and a
 * test can hand it a simulated kernel or one that fails on any write.
 */
import type { Adapters } from "../../src/binder/kernelIo.js";
import { runCli } from "../../src/cli/runCli.js";
import { assertTestGuardOn, refuseRealSysfs } from "./hostGuard.js";

export interface CliResult {
  readonly exitCode: number;
  /** Everything printed, last newline included (the bundle's runner drops it). */
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCliInProcess(args: readonly string[], adapters: Adapters): Promise<CliResult> {
  assertTestGuardOn();
  refuseRealSysfs(args);
  let stdout = "";
  let stderr = "";
  const exitCode = await runCli(args, { out: (t) => void (stdout += t), err: (t) => void (stderr += t) }, adapters);
  return { exitCode, stdout, stderr };
}
