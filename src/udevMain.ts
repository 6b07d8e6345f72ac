// Entry point of the production bundle (dist/vfio-autobind.js), run as `node --jitless`.
// udev starts it once per claimed device, all at once at boot, and under --jitless every
// byte of JavaScript it parses costs start-up time: so this part holds only the udev
// helper, and the rest of the program (yargs, the commands, execa's CLI users: src/main.ts)
// sits in the same file on a comment line that build.mjs's __vfioAutobindFullProgram reads
// back and compiles only when some other command runs.
import { startEntry } from "./entry/startEntry.js";

declare function __vfioAutobindFullProgram(): void;

if (process.argv[2] === "udev-event") {
  startEntry((argv) =>
    import("./udevProgram.js").then(({ runUdevEvent, REAL_ADAPTERS }) =>
      runUdevEvent(argv.slice(1), process.env, REAL_ADAPTERS),
    ),
  );
} else {
  __vfioAutobindFullProgram();
}
