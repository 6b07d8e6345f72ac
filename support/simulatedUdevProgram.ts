// The udev helper of the simulated bundle that the benchmark and the bundle tests run, as
// src/udevProgram.ts is the production bundle's: the same helper over the simulated kernel
// (simulatedKernel.ts). build.mjs's bundleWithUdevPart puts it in the production file's
// shape, behind the same entry (src/udevMain.ts), with simulatedCli.ts as the rest.
import { runUdevEvent, type UdevProgram } from "../src/udevProgram.js";
import { SimulatedKernel } from "./simulatedKernel.js";

export const udevProgram: UdevProgram = {
  run: (argv, env) => runUdevEvent(argv, env, { kernelIo: (sysfsRoot) => SimulatedKernel.open(sysfsRoot) }),
};
