// The udev part of the benchmark's simulated bundle, as src/udevMain.ts is the production
// bundle's: the same helper over the simulated kernel (support/simulatedKernel.ts), and
// support/simulatedCli.ts as the compiled-on-demand rest (build.mjs's bundleWithUdevPart).
import { startEntry } from "../src/entry/startEntry.js";
import { SimulatedKernel } from "../support/simulatedKernel.js";

declare function __vfioAutobindFullProgram(): void;

if (process.argv[2] === "udev-event") {
  startEntry((argv) =>
    import("../src/udevProgram.js").then(({ runUdevEvent }) =>
      runUdevEvent(argv.slice(1), process.env, { kernelIo: (sysfsRoot) => SimulatedKernel.open(sysfsRoot) }),
    ),
  );
} else {
  __vfioAutobindFullProgram();
}
