/** What `apply --dry-run` shows for a file apply generates: that it is up to date, or the diff apply would make. */
import { unifiedDiff } from "../text/unifiedDiff.js";

/**
 * `<what> up to date: <file>` when the installed text (null: no file) is what apply would
 * write; else `would change <file>:` and a unified diff from it to the new text.
 */
export function plannedFileChange(what: string, file: string, installed: string | null, text: string): string[] {
  if (installed === text) return [`${what} up to date: ${file}`];
  const diff = unifiedDiff(installed === null ? "/dev/null" : file, installed ?? "", file, text);
  const verb = installed === null ? "create" : "change";
  if (diff === null) return [`would ${verb} ${file}: too large, or too different, to show as a diff`];
  return [`would ${verb} ${file}:`, ...diff];
}
