/**
 * The CLI exactly as the bundle wires it, but with the simulated kernel under the write
 * path: built into its own file by the tests, so many processes can bind devices of one
 * fake tree at once. The root must be a fake tree (SimulatedKernel.open refuses others).
 */
import { runCli } from "../../src/cli/runCli.js";
import { runUdevHelper } from "../../src/udev/udevHelperProcess.js";
import { SimulatedKernel } from "./simulatedKernel.js";

const adapters = { kernelIo: (sysfsRoot: string) => SimulatedKernel.open(sysfsRoot) };
const argv = process.argv.slice(2);
const run =
  argv[0] === "udev-event"
    ? runUdevHelper(argv.slice(1), process.env, adapters)
    : runCli(
        argv,
        { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) },
        adapters,
      );
run.then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`simulated cli: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
