/**
 * The program, behind the bundle's entry (src/main.ts) and the tests' simulated CLI
 * (support/simulatedCli.ts): `udev-event` goes to the udev helper, everything else to
 * the command line. Each is loaded only when it runs, so a udev event pays for neither
 * yargs nor the commands.
 */
import type { Adapters } from "./binder/kernelIo.js";
import { EXIT_CODES } from "./binder/outcomes.js";
import { runUdevEvent, unexpected } from "./udevProgram.js";

export { REAL_ADAPTERS } from "./udevProgram.js";

/** `vfio-autobind list | head` closes the pipe early: that is not an error worth a trace. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? EXIT_CODES.ok);
      throw error;
    });
  }
}

/** Runs one invocation; resolves to the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, adapters: Adapters): Promise<number> {
  if (argv[0] === "udev-event") return runUdevEvent(argv.slice(1), env, adapters);
  try {
    const { runCli } = await import("./cli/runCli.js");
    quietOnClosedPipe();
    return await runCli(
      argv,
      { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) },
      adapters,
      env,
    );
  } catch (error) {
    return unexpected(error);
  }
}
