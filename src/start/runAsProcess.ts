/**
 * What both bundles do around their program (startCli.ts, startUdevHelper.ts): run it, set
 * its exit code, and say one line for anything it did not catch.
 */
import { EXIT_CODES } from "../binder/outcomes.js";

function unexpected(error: unknown): number {
  process.stderr.write(`vfio-autobind: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT_CODES.failure;
}

export function runAsProcess(program: () => Promise<number>): void {
  program().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.exitCode = unexpected(error);
    },
  );
}
