// Entry point of the whole program (every command), run as `node --jitless`. In the
// production bundle it is the part compiled only when a command other than `udev-event`
// runs (build.mjs, src/udevMain.ts); the tests' simulated CLI has its own.
// Its only static import is the entry's start, which checks the Node version before
// anything else is loaded.
import { startEntry } from "./entry/startEntry.js";

startEntry((argv) => import("./program.js").then(({ main, REAL_ADAPTERS }) => main(argv, process.env, REAL_ADAPTERS)));
