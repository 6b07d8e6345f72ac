/**
 * The bind under the lock: the record written before the first change, each candidate tried
 * in turn within the time budget, the record of the bind, or the original driver restored
 * when none binds.
 */
import { isOverrideOurs } from "../policy/hold.js";
import type { SafetyVerdict } from "../policy/safetyVerdict.js";
import type { PciDevice } from "../sysfs/pciDevice.js";
import type { BindEnvironment } from "./bindDevice.js";
import { attemptCandidate, DeviceGone, restoreOriginal, sequenceContext, type AttemptResult } from "./bindSteps.js";
import { attemptCostMs, canAfford, RESTORE_RESERVE_MS, seconds, SYSFS_STEPS_MS } from "./budget.js";
import type { BindOutcome, PlannedCandidate } from "./outcomes.js";
import { readRecord, removeRecord, writeRecord, type BindRecord } from "./stateStore.js";

/** Why the better candidates were passed over, for the line the admin reads. */
const fellBack = (attempts: readonly AttemptResult[]): string => {
  const failed = attempts.filter((a) => !a.bound);
  return failed.length === 0 ? "" : ` after ${failed.map((a) => `${a.module}: ${a.reason}`).join("; ")}`;
};

/** What one attempt may take: with a modprobe when the candidate's module is neither loaded nor built in. */
export const costOf = (env: BindEnvironment, candidate: PlannedCandidate): number =>
  attemptCostMs(candidate.driver === null && !env.builtinModules.has(candidate.module), env.modprobeTimeoutMs);

export async function bindLocked(
  env: BindEnvironment,
  device: PciDevice,
  tried: readonly PlannedCandidate[],
  candidates: readonly PlannedCandidate[],
  verdict: SafetyVerdict,
  rulesDriver: string | null,
): Promise<BindOutcome> {
  const address = device.address;
  // A device we bound before keeps the driver it had before us as its original. A device
  // held for us (by the rules or at boot) had none: if nothing binds, it goes back to the
  // kernel's choice (fail-open), which is where it would have gone without us.
  const previous = readRecord(env.stateDir, address);
  const heldForUs =
    previous === null &&
    isOverrideOurs(device.driverOverride, rulesDriver) &&
    (device.driver === null || device.driver === rulesDriver);
  const original =
    previous !== null
      ? { driver: previous.originalDriver, override: previous.originalOverride, probe: previous.held === true }
      : heldForUs
        ? { driver: null, override: null, probe: true }
        : { driver: device.driver, override: device.driverOverride, probe: false };
  const record = (fields: Pick<BindRecord, "status" | "module" | "driver">): BindRecord => ({
    version: 1,
    address,
    originalDriver: original.driver,
    originalOverride: original.override,
    time: env.now().toISOString(),
    ...(original.probe ? { held: true as const } : {}),
    ...fields,
  });
  // Written before the first change, so a crash mid-way still knows how to go back.
  writeRecord(env.stateDir, record({ status: "binding", module: null, driver: null }));

  const attempts: AttemptResult[] = [];
  try {
    for (const candidate of tried) {
      // Stop starting attempts once one more and the restore after it no longer fit the budget.
      if (!canAfford(env.budget, costOf(env, candidate))) {
        attempts.push({
          module: candidate.module,
          driver: candidate.driver,
          bound: false,
          reason: `not tried: ${seconds(env.budget.remainingMs())} s left of the deadline, too little for an attempt and a restore`,
        });
        break;
      }
      // modprobe may use what is left after the sysfs steps and the restore, up to its own timeout.
      const modprobeTimeoutMs = Math.min(
        env.modprobeTimeoutMs,
        env.budget.remainingMs() - SYSFS_STEPS_MS - RESTORE_RESERVE_MS,
      );
      const attempt = await attemptCandidate({ ...sequenceContext(env, address), modprobeTimeoutMs }, candidate.module);
      attempts.push(attempt);
      if (attempt.bound && attempt.driver !== null) {
        let warning = "";
        try {
          writeRecord(env.stateDir, record({ status: "bound", module: attempt.module, driver: attempt.driver }));
        } catch (error) {
          // The "binding" record already holds the originals, which is all release needs.
          warning = ` (warning: ${error instanceof Error ? error.message : String(error)})`;
        }
        const forced = verdict.ok && verdict.overridden.length > 0 ? ` (forced: ${verdict.overridden.join("; ")})` : "";
        // A host driver had it first (built in, or loaded before any hold could be set):
        // said plainly, so the admin knows the device met it.
        const takenFrom =
          device.driver !== null && !device.hasVfioDev && !heldForUs ? `; taken from ${device.driver}` : "";
        return {
          status: "bound",
          address,
          module: attempt.module,
          driver: attempt.driver,
          rank: candidate.rank,
          candidates,
          attempts,
          verdict,
          message: `${address}: bound to ${attempt.driver} (module ${attempt.module}, rank ${candidate.rank} of ${candidates.length})${takenFrom}${fellBack(attempts)}${forced}${warning}`,
        };
      }
    }
    const restore = restoreOriginal(sequenceContext(env, address), original);
    // Back where it started: nothing of ours is left to release. Otherwise keep the record
    // with the originals so that `release` can try again.
    if (restore.ok) removeRecord(env.stateDir, address);
    const reasons = attempts.map((a) => `${a.module}: ${a.reason}`).join("; ");
    return {
      status: "failed",
      address,
      candidates,
      attempts,
      verdict,
      restore,
      message: `${address}: not bound: ${reasons}; ${restore.reason}`,
    };
  } catch (error) {
    if (!(error instanceof DeviceGone)) throw error;
    removeRecord(env.stateDir, address);
    const reasons = attempts.map((a) => `${a.module}: ${a.reason}`);
    return {
      status: "removed",
      address,
      candidates,
      attempts,
      message: `${address}: not bound: ${[...reasons, "the device was removed"].join("; ")}`,
    };
  }
}
