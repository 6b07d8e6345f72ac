/**
 * Fail-open, the last resort: a device that still carries an override of ours (the hold, or
 * a driver name written for its event) and is on no driver gets the override cleared and
 * the kernel probes it, so it goes where it would have gone without vfio-autobind. It needs
 * the sysfs root, the address and the kernel's writes, nothing else: not the state
 * directory, the lock or the config, any of which may be what failed. Each step is one sysfs
 * read or write, with no wait, tried twice, so it ends within a few system calls.
 */
import { errnoCode } from "../errors.js";
import { sysfsPaths } from "../paths.js";
import { isSysfsPciName } from "../sysfs/pciAddress.js";
import { deviceExists, readBoundDriver, readDriverOverride } from "../sysfs/pciDevice.js";
import type { KernelIo } from "./kernelIo.js";

export interface HeldDevice {
  readonly sysfsRoot: string;
  readonly address: string;
  readonly kernel: KernelIo;
}

export type HoldRelease =
  /** Nothing of ours holds it: on a driver, or an override that is not ours, or none. */
  | { readonly kind: "not-held"; readonly driver: string | null }
  | { readonly kind: "gone" }
  | { readonly kind: "cleared"; readonly driver: string | null; readonly probeProblem: string | null }
  | { readonly kind: "failed"; readonly problem: string };

/** Runs `step`, and once more if it throws: a transient EIO or EBUSY must not keep a hold. */
export function twice<T>(step: () => T): T {
  try {
    return step();
  } catch {
    return step();
  }
}

const reasonOf = (error: unknown): string =>
  errnoCode(error) ?? (error instanceof Error ? error.message : String(error));

export function releaseHold(device: HeldDevice, isOurs: (override: string | null) => boolean): HoldRelease {
  const { sysfsRoot, address, kernel } = device;
  if (!isSysfsPciName(address)) return { kind: "gone" };
  const sys = sysfsPaths(sysfsRoot);
  const driverNow = (): string | null => twice(() => readBoundDriver(sysfsRoot, address));
  let override: string | null;
  let driver: string | null;
  try {
    override = twice(() => readDriverOverride(sysfsRoot, address));
    driver = driverNow();
  } catch (error) {
    return { kind: "failed", problem: reasonOf(error) };
  }
  if (driver !== null || !isOurs(override)) return { kind: "not-held", driver };
  try {
    // "\n" clears driver_override; an empty write would not reach the kernel at all.
    twice(() => kernel.writeAttribute(sys.driverOverride(address), "\n"));
  } catch (error) {
    if (!deviceExists(sysfsRoot, address)) return { kind: "gone" };
    return { kind: "failed", problem: `writing driver_override failed: ${reasonOf(error)}` };
  }
  let probeProblem: string | null = null;
  try {
    if (driverNow() === null) twice(() => kernel.writeAttribute(sys.driversProbe, address));
  } catch (error) {
    probeProblem = reasonOf(error);
  }
  let after: string | null = null;
  try {
    after = driverNow();
  } catch (error) {
    probeProblem ??= reasonOf(error);
  }
  if (after === null && !deviceExists(sysfsRoot, address)) return { kind: "gone" };
  return { kind: "cleared", driver: after, probeProblem };
}

/** Whether the last resort had something of ours to let go of. */
export const foundHeld = (release: HoldRelease): boolean => release.kind === "cleared" || release.kind === "failed";

/** The words for the event's journal line; `cause`, when given, is what ended the event. */
export function describeRelease(release: HoldRelease, cause: string | null): string {
  const after = cause === null ? "" : ` after ${cause}`;
  switch (release.kind) {
    case "not-held":
      return `left on ${release.driver ?? "no driver"}`;
    case "gone":
      return "the device is gone";
    case "failed":
      return `could not clear the hold${after}: ${release.problem}`;
    case "cleared": {
      if (release.driver !== null) return `cleared the hold${after}, now on ${release.driver}`;
      const problem = release.probeProblem === null ? "" : ` (probing failed: ${release.probeProblem})`;
      return `cleared the hold${after}, no driver took it${problem}`;
    }
  }
}
