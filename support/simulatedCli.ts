/**
 * The CLI exactly as its bundle runs it (src/start/cliMain.ts), but with the simulated kernel
 * under the write path: built into its own file by the tests, so many processes can bind
 * devices of one fake tree at once. The root must be a fake tree (SimulatedKernel.open
 * refuses others).
 */
import { startCli } from "../src/start/startCli.js";
import { SimulatedKernel } from "./simulatedKernel.js";

startCli({ kernelIo: (sysfsRoot) => SimulatedKernel.open(sysfsRoot) });
