/**
 * The command line as the CLI bundle runs it (cliMain.ts), and the tests' simulated CLI
 * with a simulated kernel: the Node version check first (on an older Node, RHEL 9's default
 * 16, the commands may not even load, and the admin gets one line saying why instead of a
 * crash), then the commands, loaded only once it passed.
 */
import type { Adapters } from "../binder/kernelIo.js";
import { EXIT_CODES } from "../binder/outcomes.js";
import { nodeVersionRefusal } from "./nodeVersion.js";
import { runAsProcess } from "./runAsProcess.js";

/** `vfio-autobind list | head` closes the pipe early: that is not an error worth a trace. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? EXIT_CODES.ok);
      throw error;
    });
  }
}

export function startCli(adapters: Adapters): void {
  runAsProcess(async () => {
    const refusal = nodeVersionRefusal(process.versions.node, process.execPath);
    if (refusal !== null) {
      process.stderr.write(`vfio-autobind: ${refusal}\n`);
      return EXIT_CODES.failure;
    }
    const { runCli } = await import("../cli/runCli.js");
    quietOnClosedPipe();
    return runCli(
      process.argv.slice(2),
      { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) },
      adapters,
      process.env,
    );
  });
}
