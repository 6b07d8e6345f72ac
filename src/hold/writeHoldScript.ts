/** The real root's hold script on disk (generatedPaths(configDir).holdScript), written when it changes. */
import { readOptionalRegularFile, writeFileAtomic } from "../files/safeFiles.js";

// A generated script is a few kilobytes per claim; anything this large is not ours.
const HOLD_SCRIPT_MAX_BYTES = 8 * 1024 * 1024;

/** The script there, that a write would replace: null when there is none, or it is unreadable or not a regular file. */
export function replacedHoldScript(file: string): string | null {
  try {
    return readOptionalRegularFile(file, { maxBytes: HOLD_SCRIPT_MAX_BYTES });
  } catch {
    return null;
  }
}

/** Writes the script if it differs from the one there; returns whether the file changed. Throws FileError. */
export function writeHoldScript(file: string, text: string): boolean {
  if (replacedHoldScript(file) === text) return false;
  writeFileAtomic(file, text, { mode: 0o644, dirMode: 0o755 });
  return true;
}
