/**
 * The udev helper exactly as its bundle runs it (src/start/udevHelperMain.ts), over the
 * simulated kernel (simulatedKernel.ts): the benchmark and the bundle tests build it into a
 * file of its own and run it as udev runs the real one.
 */
import { startUdevHelper } from "../src/start/startUdevHelper.js";
import { SimulatedKernel } from "./simulatedKernel.js";

startUdevHelper({ kernelIo: (sysfsRoot) => SimulatedKernel.open(sysfsRoot) });
