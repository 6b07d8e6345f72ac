// Entry point of the bundle (dist/vfio-autobind.js), run as `node --jitless`.
import { runCli } from "./cli/runCli.js";

// `vfio-autobind list | head` closes the pipe early: that is not an error worth a trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const output = {
  out: (text: string): void => void process.stdout.write(text),
  err: (text: string): void => void process.stderr.write(text),
};

runCli(process.argv.slice(2), output).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`vfio-autobind: unexpected error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
