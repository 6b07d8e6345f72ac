// Entry point of the bundle (dist/vfio-autobind.js), run as `node --jitless`: the real
// kernel under src/program.ts's main, which loads the udev path or the command line lazily.
import { main, REAL_ADAPTERS } from "./program.js";

main(process.argv.slice(2), process.env, REAL_ADAPTERS).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`vfio-autobind: unexpected error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
