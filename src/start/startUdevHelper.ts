/**
 * The udev helper as its bundle runs it (udevHelperMain.ts), and the tests' simulated one:
 * its arguments parsed once, the Node version checked (a refusal goes to stderr and to the
 * journal, where the admin reads the helper's lines), then the add event handled
 * (src/helper/handleAddEvent.ts), loaded only once both passed.
 */
import type { Adapters } from "../binder/kernelIo.js";
import { EXIT_CODES } from "../binder/outcomes.js";
import { parseHelperOptions, type HelperOptions } from "../helper/helperOptions.js";
import { journalLog } from "../journal/decisionLog.js";
import { nodeVersionRefusal } from "./nodeVersion.js";
import { runAsProcess } from "./runAsProcess.js";

export function startUdevHelper(adapters: Adapters): void {
  runAsProcess(async () => {
    let options: HelperOptions;
    try {
      options = parseHelperOptions(process.argv.slice(2));
    } catch (error) {
      process.stderr.write(`vfio-autobind udev helper: ${error instanceof Error ? error.message : String(error)}\n`);
      return EXIT_CODES.usage;
    }
    const refusal = nodeVersionRefusal(process.versions.node, process.execPath);
    if (refusal !== null) return refuse(options, refusal);
    const { handleAddEvent } = await import("../helper/handleAddEvent.js");
    return handleAddEvent(options, process.env, adapters);
  });
}

async function refuse(options: HelperOptions, message: string): Promise<number> {
  process.stderr.write(`vfio-autobind: ${message}\n`);
  // Already on stderr: the journal's own fallback (stderr again) is not wanted.
  const log = journalLog(options, () => undefined);
  log.error(message);
  await log.close();
  return EXIT_CODES.failure;
}
