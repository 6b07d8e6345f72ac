/**
 * `bind`: one device to its best VFIO driver, under a lock, falling back through the
 * ranked candidates and restoring the original driver when all of them fail. The order
 * of work and what each outcome means are here; the kernel steps are in bindSequence.
 */
import * as path from "node:path";
import { rankCandidates } from "../alias/rankCandidates.js";
import { RuntimeFailure } from "../errors.js";
import { describeForbidden, NO_MODULE_POLICY, type ModulePolicy } from "../kmod/modulePolicy.js";
import type { VfioAliasSet } from "../kmod/readVfioAliases.js";
import { isSafeModuleName, sysfsPaths } from "../paths.js";
import { safetyVerdict, type SafetyVerdict } from "../policy/safetyVerdict.js";
import { findHostUses } from "../sysfs/hostUsage.js";
import { moduleOfDriver, pciDriverOfModule, readPciDevice, type PciDevice } from "../sysfs/pciDevice.js";
import type { HeldLock } from "../lock/deviceLock.js";
import {
  attemptCandidate,
  DeviceGone,
  restoreOriginal,
  type AttemptResult,
  type SequenceContext,
} from "./bindSequence.js";
import type { KernelIo } from "./kernelIo.js";
import { readRecord, removeRecord, writeRecord, type BindRecord } from "./stateStore.js";

export interface BindRequest {
  readonly address: string;
  /** --driver: a module or a driver name; only that one is tried. */
  readonly driver?: string;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly noFallback: boolean;
}

export interface BindEnvironment {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  readonly stateDir: string;
  readonly aliasSet: VfioAliasSet;
  /** Modules the admin forbade (modprobe.d, kernel command line): never tried. */
  readonly modulePolicy: ModulePolicy;
  readonly builtinModules: ReadonlySet<string>;
  readonly kernel: KernelIo;
  readonly modprobeTimeoutMs: number;
  lock(key: string): Promise<HeldLock>;
  now(): Date;
}

export interface PlannedCandidate {
  readonly rank: number;
  readonly module: string;
  /** The alias that put it here; null when named with --driver. */
  readonly pattern: string | null;
  /** Known when the module is loaded (or was, at planning time). */
  readonly driver: string | null;
}

export type BindStatus = "bound" | "already-bound" | "refused" | "failed" | "removed" | "planned";

export interface BindOutcome {
  readonly address: string;
  readonly status: BindStatus;
  readonly module: string | null;
  readonly driver: string | null;
  readonly rank: number | null;
  readonly candidates: readonly PlannedCandidate[];
  readonly attempts: readonly AttemptResult[];
  readonly verdict: SafetyVerdict | null;
  /** Set when all candidates failed and the original was put back (or not). */
  readonly restore: { readonly ok: boolean; readonly driver: string | null; readonly reason: string } | null;
  /** For --dry-run: the writes it would make, in order. */
  readonly plan: readonly string[];
  /** The line an admin reads. */
  readonly message: string;
}

export function sequenceContext(env: BindEnvironment, address: string): SequenceContext {
  return {
    sysfsRoot: env.sysfsRoot,
    address,
    kernel: env.kernel,
    modprobeTimeoutMs: env.modprobeTimeoutMs,
    builtinModules: env.builtinModules,
  };
}

export function lockKeyFor(device: Pick<PciDevice, "address" | "iommuGroup">): string {
  // One lock per IOMMU group: group-wide operations and single devices then never interleave.
  return device.iommuGroup === null ? `device-${device.address}` : `group-${device.iommuGroup}`;
}

/** A pinned driver (`--driver`, `Driver=`) whose module the admin forbade. */
export class ForbiddenDriverError extends RuntimeFailure {
  override readonly name = "ForbiddenDriverError";
}

/** The candidates in the order they will be tried; forbidden modules are left out. */
export function planCandidates(
  sysfsRoot: string,
  device: PciDevice,
  aliasSet: VfioAliasSet,
  driverOption: string | undefined,
  modulePolicy: ModulePolicy = NO_MODULE_POLICY,
): PlannedCandidate[] {
  if (driverOption !== undefined) {
    const module = moduleForName(sysfsRoot, aliasSet, driverOption);
    const forbidden = modulePolicy.get(module);
    if (forbidden !== undefined) {
      throw new ForbiddenDriverError(
        `driver ${driverOption} (module ${module}) is forbidden by ${describeForbidden(forbidden)}`,
      );
    }
    return [{ rank: 1, module, pattern: null, driver: pciDriverOfModule(sysfsRoot, module) }];
  }
  const allowed = rankCandidates(device.modalias, aliasSet.aliases).filter((c) => !modulePolicy.has(c.module));
  return allowed.map((c, i) => ({
    rank: i + 1,
    module: c.module,
    pattern: c.pattern,
    driver: pciDriverOfModule(sysfsRoot, c.module),
  }));
}

/** --driver takes a module (mlx5_vfio_pci) or a driver name (vfio-pci, xe-vfio-pci). */
function moduleForName(sysfsRoot: string, aliasSet: VfioAliasSet, name: string): string {
  if (!isSafeModuleName(name))
    throw new RuntimeFailure(`--driver ${JSON.stringify(name)}: not a module or driver name`);
  const registeredBy = moduleOfDriver(sysfsRoot, name);
  if (registeredBy !== null) return registeredBy;
  const modules = new Set(aliasSet.aliases.map((a) => a.module));
  if (modules.has(name)) return name;
  const underscored = name.replace(/-/g, "_");
  if (modules.has(underscored)) return underscored;
  // Not in the index (an out-of-tree module without VFIO aliases): let modprobe judge.
  return underscored;
}

/** Why the better candidates were passed over, for the line the admin reads. */
const fellBack = (attempts: readonly AttemptResult[]): string => {
  const failed = attempts.filter((a) => !a.bound);
  return failed.length === 0 ? "" : ` after ${failed.map((a) => `${a.module}: ${a.reason}`).join("; ")}`;
};

const describeCandidates = (candidates: readonly PlannedCandidate[]): string =>
  candidates
    .map((c) => `${c.rank}. ${c.module}${c.driver !== null && c.driver !== c.module ? ` (driver ${c.driver})` : ""}`)
    .join(", ");

function outcome(address: string, fields: Partial<BindOutcome> & Pick<BindOutcome, "status" | "message">): BindOutcome {
  return {
    address,
    module: null,
    driver: null,
    rank: null,
    candidates: [],
    attempts: [],
    verdict: null,
    restore: null,
    plan: [],
    ...fields,
  };
}

export async function bindDevice(request: BindRequest, env: BindEnvironment): Promise<BindOutcome> {
  const address = request.address;
  const initial = readPciDevice(env.sysfsRoot, address);
  let candidates: PlannedCandidate[];
  try {
    candidates = planCandidates(env.sysfsRoot, initial, env.aliasSet, request.driver, env.modulePolicy);
  } catch (error) {
    if (!(error instanceof ForbiddenDriverError)) throw error;
    return outcome(address, { status: "refused", message: `${address}: refused: ${error.message}` });
  }
  const first = candidates[0];
  if (first === undefined) {
    return outcome(address, {
      status: "failed",
      message: `${address}: no VFIO driver matches ${initial.modalias.text}`,
    });
  }
  const onTarget = (device: PciDevice): boolean =>
    device.driver !== null &&
    (device.driver === first.driver || moduleOfDriver(env.sysfsRoot, device.driver) === first.module);
  if (onTarget(initial)) {
    return outcome(address, {
      status: "already-bound",
      module: first.module,
      driver: initial.driver,
      rank: first.rank,
      candidates,
      message: `${address}: already bound to ${initial.driver}`,
    });
  }
  // A device we bound to a lower candidate earlier (the better ones failed then) stays
  // there: retrying on every trigger would pull it from under a VM and churn for nothing.
  const ours = readRecord(env.stateDir, address);
  if (
    request.driver === undefined &&
    ours?.status === "bound" &&
    ours.driver !== null &&
    ours.driver === initial.driver
  ) {
    const rank = candidates.find((c) => c.module === ours.module)?.rank ?? null;
    return outcome(address, {
      status: "already-bound",
      module: ours.module,
      driver: initial.driver,
      rank,
      candidates,
      message: `${address}: already bound to ${initial.driver}${rank === null ? "" : ` (rank ${rank} of ${candidates.length}; vfio-autobind bound it there)`}`,
    });
  }

  const judge = (device: PciDevice): SafetyVerdict => {
    const verdict = safetyVerdict(device, findHostUses(device.path, env.procRoot), request.force);
    if (verdict.ok && device.hasVfioDev && !request.force) {
      // Moving a device between VFIO drivers would pull it from under a running VM.
      return {
        ok: false,
        reason: `it is bound to ${device.driver}, which a VM may be using; release it first or use --force`,
        forceable: true,
      };
    }
    return verdict;
  };
  const verdict = judge(initial);
  const tried = request.noFallback ? candidates.slice(0, 1) : candidates;
  if (request.dryRun) {
    // The whole plan, even for a refusal: the admin sees what --force would or would not change.
    const plan = dryRunPlan(env, initial, tried);
    return verdict.ok
      ? outcome(address, {
          status: "planned",
          candidates: tried,
          verdict,
          plan,
          message: `${address}: would bind to ${first.module} (dry run, nothing written)`,
        })
      : outcome(address, {
          status: "refused",
          candidates: tried,
          verdict,
          plan,
          message: `${address}: refused: ${verdict.reason} (dry run, nothing written)`,
        });
  }
  if (!verdict.ok) {
    return outcome(address, {
      status: "refused",
      candidates,
      verdict,
      message: `${address}: refused: ${verdict.reason}`,
    });
  }

  const lock = await env.lock(lockKeyFor(initial));
  try {
    // Everything may have changed while we waited for the lock.
    const device = readPciDevice(env.sysfsRoot, address);
    if (onTarget(device)) {
      return outcome(address, {
        status: "already-bound",
        module: first.module,
        driver: device.driver,
        rank: first.rank,
        candidates,
        message: `${address}: already bound to ${device.driver}`,
      });
    }
    const lockedVerdict = judge(device);
    if (!lockedVerdict.ok) {
      return outcome(address, {
        status: "refused",
        candidates,
        verdict: lockedVerdict,
        message: `${address}: refused: ${lockedVerdict.reason}`,
      });
    }
    return await bindLocked(env, device, tried, candidates, lockedVerdict);
  } finally {
    lock.release();
  }
}

async function bindLocked(
  env: BindEnvironment,
  device: PciDevice,
  tried: readonly PlannedCandidate[],
  candidates: readonly PlannedCandidate[],
  verdict: SafetyVerdict,
): Promise<BindOutcome> {
  const address = device.address;
  // A device we bound before keeps the driver it had before us as its original.
  const previous = readRecord(env.stateDir, address);
  const originalDriver = previous !== null ? previous.originalDriver : device.driver;
  const originalOverride = previous !== null ? previous.originalOverride : device.driverOverride;
  const record = (fields: Pick<BindRecord, "status" | "module" | "driver">): BindRecord => ({
    version: 1,
    address,
    originalDriver,
    originalOverride,
    time: env.now().toISOString(),
    ...fields,
  });
  // Written before the first change, so a crash mid-way still knows how to go back.
  writeRecord(env.stateDir, record({ status: "binding", module: null, driver: null }));

  const ctx = sequenceContext(env, address);
  const attempts: AttemptResult[] = [];
  try {
    for (const candidate of tried) {
      const attempt = await attemptCandidate(ctx, candidate.module);
      attempts.push(attempt);
      if (attempt.bound) {
        let warning = "";
        try {
          writeRecord(env.stateDir, record({ status: "bound", module: attempt.module, driver: attempt.driver }));
        } catch (error) {
          // The "binding" record already holds the originals, which is all release needs.
          warning = ` (warning: ${error instanceof Error ? error.message : String(error)})`;
        }
        const forced = verdict.ok && verdict.overridden.length > 0 ? ` (forced: ${verdict.overridden.join("; ")})` : "";
        return outcome(address, {
          status: "bound",
          module: attempt.module,
          driver: attempt.driver,
          rank: candidate.rank,
          candidates,
          attempts,
          verdict,
          message: `${address}: bound to ${attempt.driver} (module ${attempt.module}, rank ${candidate.rank} of ${candidates.length})${fellBack(attempts)}${forced}${warning}`,
        });
      }
    }
    const restore = restoreOriginal(ctx, originalDriver, originalOverride);
    // Back where it started: nothing of ours is left to release. Otherwise keep the record
    // with the originals so that `release` can try again.
    if (restore.ok) removeRecord(env.stateDir, address);
    const reasons = attempts.map((a) => `${a.module}: ${a.reason}`).join("; ");
    return outcome(address, {
      status: "failed",
      candidates,
      attempts,
      verdict,
      restore,
      message: `${address}: not bound: ${reasons}; ${restore.reason}`,
    });
  } catch (error) {
    if (!(error instanceof DeviceGone)) throw error;
    removeRecord(env.stateDir, address);
    const reasons = attempts.map((a) => `${a.module}: ${a.reason}`);
    return outcome(address, {
      status: "removed",
      candidates,
      attempts,
      verdict,
      message: `${address}: not bound: ${[...reasons, "the device was removed"].join("; ")}`,
    });
  }
}

function dryRunPlan(env: BindEnvironment, device: PciDevice, tried: readonly PlannedCandidate[]): string[] {
  const plan: string[] = [];
  const relative = (file: string): string => path.join("/sys", path.relative(env.sysfsRoot, file));
  tried.forEach((candidate, index) => {
    const driverName = candidate.driver ?? `<driver of ${candidate.module}>`;
    plan.push(`${index === 0 ? "try" : "else try"} ${candidate.module}:`);
    if (candidate.driver === null) {
      plan.push(
        env.builtinModules.has(candidate.module)
          ? `  ${candidate.module} is built in`
          : `  modprobe ${candidate.module}`,
      );
    }
    plan.push(`  write ${driverName} to ${relative(sysfsPaths(env.sysfsRoot).driverOverride(device.address))}`);
    if (device.driver !== null && index === 0)
      plan.push(`  write ${device.address} to ${relative(sysfsPaths(env.sysfsRoot).unbind(device.driver))}`);
    const bindFile =
      candidate.driver === null
        ? path.join(relative(sysfsPaths(env.sysfsRoot).driverDir("DRIVER")), "..", driverName, "bind")
        : relative(sysfsPaths(env.sysfsRoot).bind(candidate.driver));
    plan.push(`  write ${device.address} to ${bindFile}`);
    plan.push(`  read ${relative(sysfsPaths(env.sysfsRoot).boundDriverLink(device.address))} back`);
  });
  plan.push(
    `if none binds: write ${device.driverOverride ?? "(clear)"} to driver_override${device.driver !== null ? `, bind ${device.driver} again` : ", leave unbound"}`,
  );
  plan.push(`candidates in order: ${describeCandidates(tried)}`);
  return plan;
}
