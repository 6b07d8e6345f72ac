/**
 * What both entries of the bundle do around the program (src/main.ts, src/udevMain.ts): the
 * Node version check first (on an older Node, RHEL 9's default 16, the rest may not even
 * load, and the admin gets one line saying why instead of a crash), then the program, its
 * exit code, and one line for anything it did not catch.
 */
import { nodeVersionRefusal } from "../nodeVersion.js";
import { EXIT_CODES } from "../binder/outcomes.js";

export function startEntry(program: (argv: readonly string[]) => Promise<number>): void {
  const argv = process.argv.slice(2);
  const refusal = nodeVersionRefusal(process.versions.node, process.execPath);
  const run = refusal === null ? program(argv) : refuse(argv, refusal);
  run.then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`vfio-autobind: unexpected error: ${String(error)}\n`);
      process.exitCode = EXIT_CODES.failure;
    },
  );
}

/**
 * Says why on stderr, and for the udev helper in its log too (the kernel log, or the
 * journal's socket: src/journal/decisionLog.ts), where the admin reads its lines; exit 1.
 */
async function refuse(argv: readonly string[], message: string): Promise<number> {
  process.stderr.write(`vfio-autobind: ${message}\n`);
  if (argv[0] !== "udev-event") return EXIT_CODES.failure;
  const option = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const { journalLog } = await import("../journal/decisionLog.js");
  // Already on stderr: the journal's own fallback (stderr again) is not wanted.
  const log = journalLog({ kmsg: option("--kmsg"), journalSocket: option("--journal-socket") }, () => undefined);
  log.error(message);
  await log.close();
  return EXIT_CODES.failure;
}
