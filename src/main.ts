// Entry point of the bundle (dist/vfio-autobind.js), run as `node --jitless`.
// Its only static import is the Node version check, so the check is the bundle's first
// statement: on an older Node (RHEL 9's default is 16) the rest may not even load, and the
// admin gets one line saying why instead of a crash. Everything else is loaded after it.
import { nodeVersionRefusal } from "./nodeVersion.js";

const argv = process.argv.slice(2);
const refusal = nodeVersionRefusal(process.versions.node, process.execPath);

const run: Promise<number> =
  refusal === null
    ? import("./program.js").then(({ main, REAL_ADAPTERS }) => main(argv, process.env, REAL_ADAPTERS))
    : refuse(refusal);

/** Says why on stderr and in the journal (where the udev helper's messages go), exit 1. */
async function refuse(message: string): Promise<number> {
  process.stderr.write(`vfio-autobind: ${message}\n`);
  const at = argv.indexOf("--journal-socket");
  const socket = at >= 0 ? argv[at + 1] : undefined;
  const { journalLog } = await import("./journal/decisionLog.js");
  // Already on stderr: the journal's own fallback (stderr again) is not wanted.
  const log = journalLog(socket, () => undefined);
  log.error(message);
  await log.close();
  return 1;
}

run.then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`vfio-autobind: unexpected error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
