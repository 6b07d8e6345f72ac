/**
 * Errors an admin is meant to read. Every failure the tool reports on purpose is one of
 * these, so the entry points can print one line and pick the exit code (binder/outcomes.ts)
 * without a stack.
 */

/** Something on the machine (sysfs, module files, config) stopped the command: a failure. */
export class RuntimeFailure extends Error {
  override readonly name: string = "RuntimeFailure";
}

/** The command line itself is wrong (unknown device syntax, bad option value): a usage error. */
export class UsageError extends Error {
  override readonly name: string = "UsageError";
}

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
