/**
 * `bind`: one device to its best VFIO driver, under a lock, falling back through the
 * ranked candidates and restoring the original driver when all of them fail. The order of
 * work is here; what refuses a device is in policy/safetyVerdict.ts, the kernel steps (and
 * the plan --dry-run prints from them) in bindSteps.ts, the outcomes in outcomes.ts; the
 * candidates in bindCandidates.ts, the attempts under the lock in bindLocked.ts.
 */
import type { ModulePolicy } from "../kmod/modulePolicy.js";
import type { ModuleFiles } from "../kmod/moduleFiles.js";
import type { VfioAliasSet } from "../kmod/readVfioAliases.js";
import type { HeldLock } from "../lock/deviceLock.js";
import { keptAfterFallback } from "../policy/moveVerdict.js";
import { bindVerdict, type SafetyVerdict } from "../policy/safetyVerdict.js";
import { findHostUses } from "../sysfs/hostUsage.js";
import { moduleOfDriver, readPciDevice, seenOrReadPciDevice, type PciDevice } from "../sysfs/pciDevice.js";
import { findVfioHolders, vfioNodesOf } from "../sysfs/vfioHolders.js";
import { planCandidates } from "./bindCandidates.js";
import { dryRunPlan } from "./bindDryRun.js";
import { bindLocked, costOf } from "./bindLocked.js";
import { lockWaitMs, seconds, type Budget } from "./budget.js";
import type { KernelIo } from "./kernelIo.js";
import { refusedOutcome, type BindOutcome, type PlannedCandidate } from "./outcomes.js";
import { readRecord, writeRecord } from "./stateStore.js";

export type { BindOutcome, PlannedCandidate } from "./outcomes.js";

/**
 * What the generated udev rules did for this event before the helper started (RULE_ENV):
 * wrote `driver` to driver_override and loaded `module`, so the kernel may already have
 * bound the device. The helper checks that against its own ranking, never trusts it.
 */
export interface RulesDecision {
  readonly module: string;
  readonly driver: string;
}

export interface BindRequest {
  readonly address: string;
  /** --driver: a module or a driver name; only that one is tried. */
  readonly driver?: string;
  /** Set by the udev helper when the rules already wrote a driver_override for the event. */
  readonly rules?: RulesDecision;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly noFallback: boolean;
  /**
   * The device as the caller read it moments ago, outside any lock: used for the decisions
   * taken before the lock instead of reading it a second time. Under the lock the device
   * is always read afresh (it may have changed while we waited).
   */
  readonly seen?: PciDevice;
}

export interface BindEnvironment {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  /** Where the VFIO nodes are, for the holder check (`/dev`, or a test tree). */
  readonly devRoot: string;
  readonly stateDir: string;
  readonly aliasSet: VfioAliasSet;
  /** Modules the admin forbade (modprobe.d, kernel command line): never tried. */
  readonly modulePolicy: ModulePolicy;
  readonly builtinModules: ReadonlySet<string>;
  /** The loadable modules' files, for when a better one was installed; absent: never known. */
  readonly moduleFiles?: ModuleFiles;
  readonly kernel: KernelIo;
  readonly modprobeTimeoutMs: number;
  /** What is left of the time this run may take (the udev helper's deadline; unlimited by hand). */
  readonly budget: Budget;
  lock(key: string, timeoutMs: number): Promise<HeldLock>;
  now(): Date;
}

export function lockKeyFor(device: Pick<PciDevice, "address" | "iommuGroup">): string {
  // One lock per IOMMU group: group-wide operations and single devices then never interleave.
  return device.iommuGroup === null ? `device-${device.address}` : `group-${device.iommuGroup}`;
}

/** The VFIO driver a device is on when its module is no longer a candidate (removed since), or null. */
function onRemovedVfioModule(
  env: BindEnvironment,
  device: PciDevice,
  candidates: readonly PlannedCandidate[],
): { driver: string; module: string } | null {
  if (!device.hasVfioDev || device.driver === null) return null;
  const module = moduleOfDriver(env.sysfsRoot, device.driver);
  if (module === null || candidates.some((c) => c.module === module)) return null;
  return { driver: device.driver, module };
}

export async function bindDevice(request: BindRequest, env: BindEnvironment): Promise<BindOutcome> {
  const address = request.address;
  const initial = seenOrReadPciDevice(env.sysfsRoot, address, request.seen);
  const planned = planCandidates(env.sysfsRoot, initial, env.aliasSet, request.driver, env.modulePolicy);
  if (!Array.isArray(planned)) return refusedOutcome(address, planned.refusal);
  const candidates = planned;
  const first = candidates[0];
  if (first === undefined) {
    return {
      status: "failed",
      address,
      candidates,
      attempts: [],
      verdict: null,
      restore: null,
      message: `${address}: no VFIO driver matches ${initial.modalias.text}`,
    };
  }
  const onTarget = (device: PciDevice): device is PciDevice & { driver: string } =>
    device.driver !== null &&
    (device.driver === first.driver || moduleOfDriver(env.sysfsRoot, device.driver) === first.module);
  const alreadyBound = (device: PciDevice & { driver: string }): BindOutcome => ({
    status: "already-bound",
    address,
    module: first.module,
    driver: device.driver,
    rank: first.rank,
    candidates,
    message: `${address}: already bound to ${device.driver}`,
  });
  const rulesDriver = request.rules?.driver ?? null;
  // The rules' note on the line: which driver they chose, and whether that is stale.
  const rulesNote =
    request.rules === undefined
      ? ""
      : request.rules.module === first.module
        ? ""
        : `; the udev rules chose ${request.rules.module}, the best is now ${first.module}: run "vfio-autobind apply"`;
  if (onTarget(initial)) {
    if (rulesDriver !== null && initial.driver === rulesDriver && readRecord(env.stateDir, address) === null) {
      return recordRulesBind(env, initial, first, candidates);
    }
    return alreadyBound(initial);
  }

  // A device we bound to a lower candidate earlier (the better ones failed then) stays
  // there: retrying on every trigger would pull it from under a VM and churn for nothing.
  // A better module installed since that bind is another matter: it moves (policy/moveVerdict.ts).
  const ours = readRecord(env.stateDir, address);
  if (
    request.driver === undefined &&
    ours?.module != null &&
    initial.driver !== null &&
    keptAfterFallback(ours, initial.driver, env.moduleFiles?.installedAt(first.module) ?? null)
  ) {
    const rank = candidates.find((c) => c.module === ours.module)?.rank ?? null;
    return {
      status: "already-bound",
      address,
      module: ours.module,
      driver: initial.driver,
      rank,
      candidates,
      message: `${address}: already bound to ${initial.driver}${rank === null ? "" : ` (rank ${rank} of ${candidates.length}; vfio-autobind bound it there)`}`,
    };
  }

  // A device on a VFIO driver whose module left the index (a package removed, DKMS
  // uninstalled) stays on it while it is loaded: the next boot decides (status says which).
  const removed = request.driver === undefined ? onRemovedVfioModule(env, initial, candidates) : null;
  if (removed !== null) {
    return {
      status: "already-bound",
      address,
      ...removed,
      rank: null,
      candidates,
      message: `${address}: already bound to ${removed.driver} (module ${removed.module} is no longer installed; it stays while loaded)`,
    };
  }

  const judge = (device: PciDevice): SafetyVerdict =>
    bindVerdict(
      device,
      findHostUses(device.path, env.procRoot),
      request.force,
      device.hasVfioDev ? findVfioHolders(env, vfioNodesOf(env.sysfsRoot, device)) : [],
    );
  const verdict = judge(initial);
  const tried = request.noFallback ? candidates.slice(0, 1) : candidates;
  if (request.dryRun) {
    // The whole plan, even for a refusal: the admin sees what --force would or would not change.
    const plan = dryRunPlan(env, initial, tried);
    return verdict.ok
      ? {
          status: "planned",
          address,
          candidates: tried,
          verdict,
          plan,
          message: `${address}: would bind to ${first.module} (dry run, nothing written)`,
        }
      : refusedOutcome(address, verdict.reason, { candidates: tried, verdict, plan });
  }
  if (!verdict.ok) return refusedOutcome(address, verdict.reason, { candidates, verdict });

  // The lock wait comes out of the same budget: after it, one attempt and a restore must still fit.
  const waitMs = lockWaitMs(env.budget, costOf(env, first));
  if (waitMs < 0) {
    return refusedOutcome(address, `only ${seconds(env.budget.remainingMs())} s left of the deadline; not started`, {
      candidates,
      verdict,
    });
  }
  const lock = await env.lock(lockKeyFor(initial), waitMs);
  try {
    // Everything may have changed while we waited for the lock.
    const device = readPciDevice(env.sysfsRoot, address);
    if (onTarget(device)) return alreadyBound(device);
    const lockedVerdict = judge(device);
    if (!lockedVerdict.ok) return refusedOutcome(address, lockedVerdict.reason, { candidates, verdict: lockedVerdict });
    const outcome = await bindLocked(env, device, tried, candidates, lockedVerdict, rulesDriver);
    return rulesNote === "" ? outcome : { ...outcome, message: `${outcome.message}${rulesNote}` };
  } finally {
    lock.release();
  }
}

/**
 * The rules bound the device to the driver the ranking puts first, with no process: the
 * helper only writes the record (the device was held for us, so release lets the kernel
 * choose) and says so. It never undoes a correct bind.
 */
function recordRulesBind(
  env: BindEnvironment,
  device: PciDevice & { driver: string },
  first: PlannedCandidate,
  candidates: readonly PlannedCandidate[],
): BindOutcome {
  let warning = "";
  try {
    writeRecord(env.stateDir, {
      version: 1,
      address: device.address,
      status: "bound",
      originalDriver: null,
      originalOverride: null,
      module: first.module,
      driver: device.driver,
      time: env.now().toISOString(),
      held: true,
    });
  } catch (error) {
    warning = ` (warning: ${error instanceof Error ? error.message : String(error)})`;
  }
  return {
    status: "bound",
    address: device.address,
    module: first.module,
    driver: device.driver,
    rank: first.rank,
    candidates,
    attempts: [],
    verdict: { ok: true, overridden: [] },
    message: `${device.address}: bound to ${device.driver} by the udev rules (module ${first.module}, rank ${first.rank} of ${candidates.length})${warning}`,
  };
}
