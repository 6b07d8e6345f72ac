/**
 * The udev helper's options (`udev-helper.js --name value`), parsed once, at start-up
 * (src/start/startUdevHelper.ts), into the paths the helper works with. The packaged rule
 * gives none: every path is the host's own (src/paths.ts). Tests give `--root` and their trees.
 */
import { environmentFrom, PATH_OPTIONS, ROOT_OPTION, type Environment } from "../paths.js";
import { parseHelperArgs } from "./helperArgs.js";

export const HELPER_OPTIONS = [ROOT_OPTION, ...Object.values(PATH_OPTIONS)] as const;

export type HelperOptions = Environment;

/** The helper's options from its arguments; throws a UsageError naming the argument. */
export function parseHelperOptions(argv: readonly string[]): HelperOptions {
  return environmentFrom(parseHelperArgs(argv, HELPER_OPTIONS));
}
