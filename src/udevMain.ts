// Entry point of the production bundle (dist/vfio-autobind.js), run as `node --jitless`.
// udev starts it once per claimed device, all at once at boot, and under --jitless every
// byte of JavaScript it compiles costs start-up time. So the code here is only what finds
// and loads the udev helper; the helper itself (src/udevProgram.ts) is carried in the same
// file on a comment line and compiled with a V8 code cache (src/entry/codeCache.ts), and the
// rest of the program (yargs, the commands, execa: src/main.ts) is on another comment line,
// compiled only when some other command runs (build.mjs says how the file is laid out).
import { loadWithCodeCache, type EmbeddedProgram } from "./entry/codeCache.js";
import { startEntry } from "./entry/startEntry.js";
import { DEFAULT_PATHS } from "./paths.js";
import { parseHelperArgs } from "./udev/helperArgs.js";
import { HELPER_OPTIONS } from "./udev/helperOptions.js";
import type { UdevProgram } from "./udevProgram.js";

declare function __vfioAutobindFullProgram(): void;
declare function __vfioAutobindUdevProgram(): EmbeddedProgram;

if (process.argv[2] === "udev-event") {
  startEntry(async (argv) => {
    const helperArgv = argv.slice(1);
    const program = loadWithCodeCache<{ udevProgram: UdevProgram }>(
      __vfioAutobindUdevProgram(),
      stateDirOf(helperArgv),
    );
    try {
      return await program.exports.udevProgram.run(helperArgv, process.env);
    } finally {
      program.saveCache();
    }
  });
} else {
  __vfioAutobindFullProgram();
}

/** Where the state (and the code cache) is; null when the arguments do not parse, which the helper then reports. */
function stateDirOf(argv: readonly string[]): string | null {
  try {
    return parseHelperArgs(argv, HELPER_OPTIONS)["state-dir"] ?? DEFAULT_PATHS.stateDir;
  } catch {
    return null;
  }
}
