/**
 * Errors an admin is meant to read. Every failure the tool reports on purpose is one of
 * these, so the entry points can print one line and pick the exit code without a stack.
 */

/** Something on the machine (sysfs, module files, config) stopped the command: exit 1. */
export class RuntimeFailure extends Error {
  override readonly name: string = "RuntimeFailure";
}

/** The command line itself is wrong (unknown device syntax, bad option value): exit 2. */
export class UsageError extends Error {
  override readonly name: string = "UsageError";
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** `check --applied` and `status`: the claims are valid, but the machine does not follow them yet. */
export const EXIT_NOT_APPLIED = 3;

/** The errno code of a Node fs error, or undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = error.code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** A short reason for a failed file operation: the errno code when there is one. */
export function describeFsError(error: unknown): string {
  const code = errnoCode(error);
  if (code !== undefined) return code;
  return error instanceof Error ? error.message : String(error);
}
