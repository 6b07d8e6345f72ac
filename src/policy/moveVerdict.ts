/**
 * Whether a claimed device on a VFIO driver moves to a better VFIO driver that was
 * installed since it was bound (a vendor package, DKMS, depmod). Pure: facts in, verdict out.
 *
 * A device moves only when all of these hold:
 * - its claim says `Driver=auto` (a pinned driver never moves);
 * - the best candidate now is another module than the one it is on, and that one is still
 *   a candidate (a removed driver is never left while it is loaded: the next boot decides);
 * - it was not left on a lower candidate because the better one failed then: a device
 *   vfio-autobind bound stays where it fell back unless the better module's file was
 *   installed after that bind (a fixed driver gets another try, a broken one no churn);
 * - no process holds its VFIO nodes: the unbind would block in the kernel and pull the
 *   device from under the guest, so it waits for an admin's `apply` after the VM stops;
 * - run automatically, its claim does not say `Move=apply`.
 */
import type { Claim } from "../config/claimConfig.js";
import { describeHolders, type VfioHolder } from "../sysfs/vfioHolders.js";

/** What the state record says about an earlier bind (src/binder/stateStore.ts). */
export interface BoundBefore {
  readonly status: "binding" | "bound";
  readonly driver: string | null;
  readonly time: string;
}

export interface MoveFacts {
  readonly device: { readonly driver: string | null; readonly hasVfioDev: boolean };
  /** The module of the driver it is on now, or null when that cannot be told. */
  readonly currentModule: string | null;
  readonly claim: Pick<Claim, "driver" | "move" | "origin">;
  /** The best candidate now (the ranking, forbidden modules left out), or null: none. */
  readonly best: string | null;
  /**
   * Whether the module it is on is still a candidate. One that is not was removed (or
   * forbidden) since: the device stays on the loaded driver, and the next boot decides.
   */
  readonly currentRanked: boolean;
  /** When the best module's file was installed, or null: built in, or not known. */
  readonly bestInstalledAt: Date | null;
  readonly record: BoundBefore | null;
  readonly holders: readonly VfioHolder[];
  /** Run by the path unit or a package trigger, not by an admin. */
  readonly automatic: boolean;
}

export type MoveVerdict =
  | { readonly kind: "stay" }
  | { readonly kind: "move"; readonly to: string; readonly installedAt: Date | null }
  | {
      readonly kind: "held";
      readonly to: string;
      readonly installedAt: Date | null;
      readonly holders: readonly VfioHolder[];
    }
  | { readonly kind: "on-apply"; readonly to: string; readonly installedAt: Date | null };

/**
 * A device vfio-autobind bound to a lower candidate (the better ones failed then) stays
 * there, unless the better module was installed after that bind.
 */
export function keptAfterFallback(
  record: BoundBefore | null,
  driverNow: string | null,
  bestInstalledAt: Date | null,
): boolean {
  if (record === null || record.status !== "bound" || driverNow === null || record.driver !== driverNow) return false;
  return bestInstalledAt === null || bestInstalledAt.getTime() <= Date.parse(record.time);
}

export function moveVerdict(facts: MoveFacts): MoveVerdict {
  const { device, best } = facts;
  if (facts.claim.driver !== "auto" || !device.hasVfioDev || best === null || facts.currentModule === best)
    return { kind: "stay" };
  if (!facts.currentRanked) return { kind: "stay" };
  if (keptAfterFallback(facts.record, device.driver, facts.bestInstalledAt)) return { kind: "stay" };
  const target = { to: best, installedAt: facts.bestInstalledAt };
  if (facts.holders.length > 0) return { kind: "held", ...target, holders: facts.holders };
  if (facts.automatic && facts.claim.move === "apply") return { kind: "on-apply", ...target };
  return { kind: "move", ...target };
}

/** `2026-12-05 12:03`, local time, as an admin compares it with `date`. */
export function formatInstalled(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

const target = (verdict: { to: string; installedAt: Date | null }): string =>
  `${verdict.to}${verdict.installedAt === null ? "" : ` (installed ${formatInstalled(verdict.installedAt)})`}`;

/** Why a device waits for a move, or null when it does not (status, explain and the journal say it). */
export function pendingMoveNote(verdict: MoveVerdict, claim: Pick<Claim, "origin">): string | null {
  switch (verdict.kind) {
    case "held":
      return `would move to ${target(verdict)}; ${describeHolders(verdict.holders)}; run "vfio-autobind apply" after the VM stops`;
    case "on-apply":
      return `would move to ${target(verdict)}; its claim (${claim.origin.file}:${claim.origin.line}) says Move=apply: run "vfio-autobind apply"`;
    case "move":
      return `would move to ${target(verdict)}; run "vfio-autobind apply"`;
    case "stay":
      return null;
  }
}

/** The end of the line that reports a move: where from, and what arrived. */
export function moveReason(verdict: { to: string; installedAt: Date | null }, from: string): string {
  return verdict.installedAt === null
    ? `moved from ${from}: ${verdict.to} ranks above it now`
    : `moved from ${from}: ${verdict.to} was installed ${formatInstalled(verdict.installedAt)}`;
}
