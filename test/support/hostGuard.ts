/**
 * What keeps a CLI test off this machine, in one place for both ways a test runs the CLI
 * (the bundle in a child process, runCli in this one): the tool's own test guard
 * (src/paths.ts: every write refuses the host's /sys, /etc, /run, /boot...) must be on, and
 * a command that binds or releases must be pointed at a fake sysfs tree.
 */
import { TEST_GUARD_ENV } from "../../src/paths.js";
import { assertFakeSysfsRoot } from "../../support/fakeSysfs.js";

/** The environment entry that turns the tool's test guard on; children get it whatever a test passes. */
export const TEST_GUARD = { [TEST_GUARD_ENV]: "1" } as const;

export function assertTestGuardOn(): void {
  if (process.env[TEST_GUARD_ENV] !== "1")
    throw new Error(`${TEST_GUARD_ENV} is not 1: run the tests through vitest (vitest.config.ts turns the guard on)`);
}

/** A command that may write must be pointed at a fake tree: tests never touch the real /sys. */
export function refuseRealSysfs(args: readonly string[]): void {
  const writes = args.some((a) => a === "bind" || a === "release") && !args.includes("--dry-run");
  if (!writes) return;
  const at = args.indexOf("--sysfs-root");
  const root = at >= 0 ? args[at + 1] : undefined;
  if (root === undefined)
    throw new Error(`refusing to run ${args.join(" ")} without --sysfs-root pointing at a fake tree`);
  assertFakeSysfsRoot(root);
}
