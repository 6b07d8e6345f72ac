/**
 * Time, as the bind sequence spends it. Every wait the sequence can make (the lock, modprobe)
 * has its own timeout, and under udev the whole event has a deadline: the sequence starts an
 * attempt only when what is left covers that attempt plus a restore, so when time runs out
 * the device is on a VFIO driver or back where it was, never in between.
 */

/** modprobe gets its own deadline, well inside udev's 180 s event timeout. */
export const MODPROBE_TIMEOUT_MS = 30_000;
/** How long `bind`/`release` wait for the IOMMU group's lock before giving up. */
export const LOCK_TIMEOUT_MS = 60_000;
/** The sysfs writes and reads of one attempt (override, unbind, bind, read back). */
export const SYSFS_STEPS_MS = 5_000;
/** Kept back for putting the original driver back after the last attempt. */
export const RESTORE_RESERVE_MS = 10_000;

/** The udev helper's budget for one event: udevd kills the worker at 180 s (warning at 60 s). */
export const UDEV_EVENT_BUDGET_MS = 150_000;
/** If the helper is still running this long after it started, something blocked: it logs and exits. */
export const UDEV_EVENT_BACKSTOP_MS = UDEV_EVENT_BUDGET_MS + RESTORE_RESERVE_MS + 5_000;

export interface Budget {
  /** Milliseconds left; Infinity when there is no deadline (a command run by hand). */
  remainingMs(): number;
}

/** No deadline: `bind` and `apply` run by an admin may take as long as their steps do. */
export const UNLIMITED_BUDGET: Budget = { remainingMs: () => Number.POSITIVE_INFINITY };

/** A budget of `totalMs` from now, on a monotonic clock (milliseconds). */
export function budgetFrom(clock: () => number, totalMs: number): Budget {
  const end = clock() + totalMs;
  return { remainingMs: () => Math.max(0, end - clock()) };
}

/** The longest one attempt at a candidate can take: loading its module (if needed) and the sysfs steps. */
export function attemptCostMs(needsModuleLoad: boolean, modprobeTimeoutMs: number): number {
  return (needsModuleLoad ? modprobeTimeoutMs : 0) + SYSFS_STEPS_MS;
}

/** Whether what is left covers an attempt of `costMs` and the restore after it. */
export function canAfford(budget: Budget, costMs: number): boolean {
  return budget.remainingMs() >= costMs + RESTORE_RESERVE_MS;
}

/** How long to wait for the lock: never so long that the first attempt and a restore no longer fit. */
export function lockWaitMs(budget: Budget, firstAttemptCostMs: number): number {
  return Math.min(LOCK_TIMEOUT_MS, budget.remainingMs() - firstAttemptCostMs - RESTORE_RESERVE_MS);
}

/** Whole seconds, for messages. */
export const seconds = (ms: number): number => Math.floor(ms / 1000);
