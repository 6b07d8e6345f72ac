/**
 * The program exactly as the bundle runs it (src/program.ts's main), but with the
 * simulated kernel under the write path: built into its own file by the tests, so many
 * processes can bind devices of one fake tree at once. The root must be a fake tree
 * (SimulatedKernel.open refuses others).
 */
import { main } from "../src/program.js";
import { SimulatedKernel } from "./simulatedKernel.js";

main(process.argv.slice(2), process.env, { kernelIo: (sysfsRoot) => SimulatedKernel.open(sysfsRoot) }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`simulated cli: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
