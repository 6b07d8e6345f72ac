/**
 * What keeps a test off this machine, in one place for both ways a test runs the CLI (the
 * bundle in a child process, runCli in this one): the host write guard (hostWriteGuard.cjs:
 * every write to the host's /sys, /etc, /run, /boot, /dev... throws) must be loaded, and a
 * command that binds or releases must be pointed at a fake sysfs tree.
 */
import * as path from "node:path";
import { assertFakeSysfsRoot } from "../../support/fakeSysfs.js";

/** The guard, loaded with `node --require` into every bundle a test starts. */
export const HOST_WRITE_GUARD = path.resolve(__dirname, "hostWriteGuard.cjs");

/** The environment entry that loads the guard into a Node child; children get it whatever a test passes. */
export const TEST_GUARD = { NODE_OPTIONS: `--require ${JSON.stringify(HOST_WRITE_GUARD)}` } as const;

/** Whether the guard is loaded in this process. */
export const hostWriteGuardLoaded = (): boolean =>
  (globalThis as Record<symbol, unknown>)[Symbol.for("vfio-autobind.hostWriteGuard")] === true;

export function assertTestGuardOn(): void {
  if (!hostWriteGuardLoaded())
    throw new Error("the host write guard is not loaded: run the tests through vitest (vitest.config.ts loads it)");
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
