/** The real root's hold script on disk (generatedPaths(configDir).holdScript), written when it changes. */
import { readOptionalRegularFile, writeFileAtomic } from "../files/safeFiles.js";

// A generated script is a few kilobytes per claim; anything this large is not ours.
const HOLD_SCRIPT_MAX_BYTES = 8 * 1024 * 1024;

/** Writes the script if it differs from the one there; returns whether the file changed. Throws FileError. */
export function writeHoldScript(file: string, text: string): boolean {
  let installed: string | null;
  try {
    installed = readOptionalRegularFile(file, { maxBytes: HOLD_SCRIPT_MAX_BYTES });
  } catch {
    installed = null; // unreadable or not a regular file: replace it
  }
  if (installed === text) return false;
  writeFileAtomic(file, text, { mode: 0o644, dirMode: 0o755 });
  return true;
}
