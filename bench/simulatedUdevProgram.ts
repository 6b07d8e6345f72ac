// The udev helper of the benchmark's simulated bundle, as src/udevProgram.ts is the
// production bundle's: the same helper over the simulated kernel (support/simulatedKernel.ts).
// build.mjs's bundleWithUdevPart puts it in the production file's shape, behind the same
// entry (src/udevMain.ts), with support/simulatedCli.ts as the rest.
import type { UdevProgram } from "../src/udevProgram.js";
import { runUdevEvent } from "../src/udevProgram.js";
import { SimulatedKernel } from "../support/simulatedKernel.js";

export const udevProgram: UdevProgram = {
  run: (argv, env) => runUdevEvent(argv, env, { kernelIo: (sysfsRoot) => SimulatedKernel.open(sysfsRoot) }),
};
