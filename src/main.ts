// Entry point of the bundle (dist/vfio-autobind.js), run as `node --jitless`.
// The udev path and the command line are loaded lazily, so that a udev event pays for
// neither yargs nor the commands it does not run.
import { realKernelIo } from "./binder/kernelIo.js";

/** `vfio-autobind list | head` closes the pipe early: that is not an error worth a trace. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
}

const adapters = { kernelIo: () => realKernelIo };
const argv = process.argv.slice(2);

const run: Promise<number> =
  argv[0] === "udev-event"
    ? import("./udev/udevHelperProcess.js").then(({ runUdevHelper }) =>
        runUdevHelper(argv.slice(1), process.env, adapters),
      )
    : import("./cli/runCli.js").then(({ runCli }) => {
        quietOnClosedPipe();
        return runCli(
          argv,
          { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) },
          adapters,
        );
      });

run.then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`vfio-autobind: unexpected error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
