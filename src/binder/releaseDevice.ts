/**
 * `release`: undo a bind. Puts back the override and the driver the device had before
 * vfio-autobind took it (or leaves it unbound when it had none), reads the result back and
 * removes the record. A device with no record was not bound by us and is left alone
 * unless --force, which then clears the override and lets the kernel pick a driver. Either
 * way the refusal rules for the way back (policy/safetyVerdict.ts) apply first.
 */
import { isHold } from "../policy/hold.js";
import { releaseRefusal } from "../policy/safetyVerdict.js";
import { findHostUses } from "../sysfs/hostUsage.js";
import { deviceExists, readPciDevice } from "../sysfs/pciDevice.js";
import { findVfioHolders, vfioNodesOf } from "../sysfs/vfioHolders.js";
import { lockKeyFor, type BindEnvironment } from "./bindDevice.js";
import { describeRestore, DeviceGone, probeDevice, restoreOriginal, sequenceContext } from "./bindSteps.js";
import { LOCK_TIMEOUT_MS } from "./budget.js";
import type { ReleaseOutcome } from "./outcomes.js";
import { readRecord, removeRecord } from "./stateStore.js";

export type { ReleaseOutcome, ReleaseStatus } from "./outcomes.js";

export interface ReleaseRequest {
  readonly address: string;
  readonly force: boolean;
  readonly dryRun: boolean;
}

export async function releaseDevice(request: ReleaseRequest, env: BindEnvironment): Promise<ReleaseOutcome> {
  const address = request.address;
  const initial = readPciDevice(env.sysfsRoot, address);
  const record = readRecord(env.stateDir, address);
  // Held for us and never bound (the helper failed or has not run yet): the hold is ours to clear.
  const heldOnly = record === null && initial.driver === null && isHold(initial.driverOverride);
  if (record === null && !request.force && !heldOnly) {
    return {
      address,
      status: "not-ours",
      driver: initial.driver,
      message: `${address}: not bound by vfio-autobind (no record in ${env.stateDir}); left on ${initial.driver ?? "no driver"}; use --force to hand it back to the kernel anyway`,
    };
  }
  const refused = (device: typeof initial): ReleaseOutcome | null => {
    const holders = device.hasVfioDev ? findVfioHolders(env, vfioNodesOf(env.sysfsRoot, device)) : [];
    const refusal = releaseRefusal(device, findHostUses(device.path, env.procRoot), record !== null, holders);
    if (refusal === null) return null;
    return { address, status: "refused", driver: device.driver, message: `${address}: refused: ${refusal}` };
  };
  const early = refused(initial);
  if (early !== null) return early;
  const target = {
    driver: record?.originalDriver ?? null,
    override: record?.originalOverride ?? null,
    probe: record?.held === true,
  };
  if (request.dryRun) {
    // The restore steps the release below runs, described instead of run. Without a record
    // it clears the override and probes: those steps with a probe at the end.
    const plan = describeRestore(
      { sysfsRoot: env.sysfsRoot, address },
      record === null ? { driver: null, override: null, probe: true } : target,
    );
    return {
      address,
      status: "planned",
      driver: initial.driver,
      plan,
      message: `${address}: would release it (dry run, nothing written)`,
    };
  }

  const lock = await env.lock(lockKeyFor(initial), Math.min(LOCK_TIMEOUT_MS, env.budget.remainingMs()));
  try {
    // Everything may have changed while we waited for the lock.
    const again = refused(readPciDevice(env.sysfsRoot, address));
    if (again !== null) return again;
    const ctx = sequenceContext(env, address);
    let result;
    try {
      if (record === null) {
        // --force without a record: unbind, clear the override, and probe as at boot.
        result = restoreOriginal(ctx, { driver: null, override: null });
        if (!result.ok)
          return {
            address,
            status: "failed",
            driver: result.driver,
            message: `${address}: not released: ${result.reason}`,
          };
        const driver = probeDevice(ctx);
        return {
          address,
          status: "released",
          driver,
          message: `${address}: ${heldOnly ? "hold cleared, released" : "released"} to the kernel; now ${driver === null ? "unbound (no loaded driver claims it)" : `on ${driver}`}`,
        };
      }
      result = restoreOriginal(ctx, target);
    } catch (error) {
      if (!(error instanceof DeviceGone) && deviceExists(env.sysfsRoot, address)) throw error;
      removeRecord(env.stateDir, address);
      return {
        address,
        status: "removed",
        driver: null,
        message: `${address}: the device was removed; record dropped`,
      };
    }
    if (!result.ok) {
      return {
        address,
        status: "failed",
        driver: result.driver,
        message: `${address}: not released: ${result.reason}`,
      };
    }
    removeRecord(env.stateDir, address);
    return {
      address,
      status: "released",
      driver: result.driver,
      message: `${address}: released; ${
        target.probe
          ? `${result.driver === null ? "no driver took it" : `the kernel gave it to ${result.driver}`} (it was held for vfio-autobind from its add event)`
          : target.driver === null
            ? "left unbound, as it was before"
            : `back on ${target.driver}`
      }`,
    };
  } finally {
    lock.release();
  }
}
