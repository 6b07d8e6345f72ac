/**
 * The kernel's bind recipe for one candidate, and the way back when every candidate
 * failed. Each step's outcome is read back from sysfs rather than trusted: a write to
 * drivers_probe reports success even when nothing bound (kernel-facts section 4).
 */
import { errnoCode } from "../errors.js";
import { sysfsPaths } from "../paths.js";
import { deviceExists, pciDriverOfModule, readBoundDriver } from "../sysfs/pciDevice.js";
import type { KernelIo } from "./kernelIo.js";

export interface SequenceContext {
  readonly sysfsRoot: string;
  readonly address: string;
  readonly kernel: KernelIo;
  readonly modprobeTimeoutMs: number;
  /** Modules built into the kernel: nothing to load. */
  readonly builtinModules: ReadonlySet<string>;
}

/** The device disappeared (hot-removed) in the middle of the sequence. */
export class DeviceGone extends Error {
  override readonly name = "DeviceGone";
}

export interface AttemptResult {
  readonly module: string;
  readonly driver: string | null;
  readonly bound: boolean;
  /** What happened, in a few words: `bound`, `modprobe ... failed: ...`, `probe bound nothing`. */
  readonly reason: string;
}

export interface RestoreResult {
  readonly ok: boolean;
  /** The driver the device ended on. */
  readonly driver: string | null;
  readonly reason: string;
}

/** Writes an attribute; returns null on success or the failure in words. */
function write(ctx: SequenceContext, what: string, file: string, value: string): string | null {
  try {
    ctx.kernel.writeAttribute(file, value);
    return null;
  } catch (error) {
    if (!deviceExists(ctx.sysfsRoot, ctx.address)) throw new DeviceGone(`${ctx.address} was removed while ${what}`);
    return `${what} failed: ${errnoCode(error) ?? (error instanceof Error ? error.message : String(error))}`;
  }
}

function boundDriver(ctx: SequenceContext): string | null {
  const driver = readBoundDriver(ctx.sysfsRoot, ctx.address);
  if (driver === null && !deviceExists(ctx.sysfsRoot, ctx.address)) throw new DeviceGone(`${ctx.address} was removed`);
  return driver;
}

/** Loads the module if needed and learns the PCI driver it registers. */
export async function ensureDriverLoaded(
  ctx: SequenceContext,
  module: string,
): Promise<{ driver: string } | { reason: string }> {
  const loaded = pciDriverOfModule(ctx.sysfsRoot, module);
  if (loaded !== null) return { driver: loaded };
  if (ctx.builtinModules.has(module)) return { reason: `${module} is built in but registers no PCI driver` };
  try {
    await ctx.kernel.loadModule(module, ctx.modprobeTimeoutMs);
  } catch (error) {
    return { reason: error instanceof Error ? error.message : String(error) };
  }
  const driver = pciDriverOfModule(ctx.sysfsRoot, module);
  return driver === null ? { reason: `${module} loaded but registers no PCI driver` } : { driver };
}

/** Override, unbind, probe, read back: one candidate. */
export async function attemptCandidate(ctx: SequenceContext, module: string): Promise<AttemptResult> {
  const loaded = await ensureDriverLoaded(ctx, module);
  if ("reason" in loaded) return { module, driver: null, bound: false, reason: loaded.reason };
  const { driver } = loaded;
  const fail = (reason: string): AttemptResult => ({ module, driver, bound: false, reason });

  // The override first: from then on no other driver can take the device (pci_match_device).
  const overrideProblem = write(
    ctx,
    "writing driver_override",
    sysfsPaths(ctx.sysfsRoot).driverOverride(ctx.address),
    driver,
  );
  if (overrideProblem !== null) return fail(overrideProblem);

  const current = boundDriver(ctx);
  if (current === driver) return { module, driver, bound: true, reason: "bound" };
  if (current !== null) {
    const unbindProblem = write(ctx, `unbinding ${current}`, sysfsPaths(ctx.sysfsRoot).unbind(current), ctx.address);
    if (unbindProblem !== null) return fail(unbindProblem);
  }

  // The driver's own bind file reports the probe's error; the read-back below decides.
  const bindProblem = write(ctx, `binding ${driver}`, sysfsPaths(ctx.sysfsRoot).bind(driver), ctx.address);
  const after = boundDriver(ctx);
  if (after === driver) return { module, driver, bound: true, reason: "bound" };
  if (after !== null) return fail(`the device went to ${after} instead`);
  return fail(bindProblem ?? "probe bound nothing");
}

/** Asks the driver core to find a driver, as at boot, and says which one bound (if any). */
export function probeDevice(ctx: SequenceContext): string | null {
  write(ctx, "probing", sysfsPaths(ctx.sysfsRoot).driversProbe, ctx.address);
  return boundDriver(ctx);
}

/**
 * A restore write gets one retry: restoring is the safety net, and a transient EIO or
 * EBUSY there would otherwise leave the device worse off than we found it.
 */
function writeWithRetry(ctx: SequenceContext, what: string, file: string, value: string): string | null {
  return write(ctx, what, file, value) === null ? null : write(ctx, what, file, value);
}

/**
 * Puts the original override and driver back. An original driver of null means the device
 * was unbound, and stays so.
 */
export function restoreOriginal(
  ctx: SequenceContext,
  originalDriver: string | null,
  originalOverride: string | null,
): RestoreResult {
  const problems: string[] = [];
  // "\n" clears driver_override; an empty write would not reach the kernel at all.
  const overrideProblem = writeWithRetry(
    ctx,
    "restoring driver_override",
    sysfsPaths(ctx.sysfsRoot).driverOverride(ctx.address),
    originalOverride ?? "\n",
  );
  if (overrideProblem !== null) problems.push(overrideProblem);

  let current = boundDriver(ctx);
  if (current !== null && current !== originalDriver) {
    const problem = writeWithRetry(ctx, `unbinding ${current}`, sysfsPaths(ctx.sysfsRoot).unbind(current), ctx.address);
    if (problem !== null) problems.push(problem);
    current = boundDriver(ctx);
  }
  if (originalDriver !== null && current === null) {
    const problem = writeWithRetry(
      ctx,
      `binding ${originalDriver}`,
      sysfsPaths(ctx.sysfsRoot).bind(originalDriver),
      ctx.address,
    );
    current = boundDriver(ctx);
    if (current === null) {
      // Let the driver core choose, as at boot, before giving up.
      writeWithRetry(ctx, "probing", sysfsPaths(ctx.sysfsRoot).driversProbe, ctx.address);
      current = boundDriver(ctx);
    }
    if (current !== originalDriver && problem !== null) problems.push(problem);
  }
  const ok = current === originalDriver && overrideProblem === null;
  const where = current === null ? "unbound" : `on ${current}`;
  const reason = ok
    ? originalDriver === null
      ? "left unbound, as it was"
      : `restored ${originalDriver}`
    : `restore incomplete, device is ${where}${problems.length > 0 ? ` (${problems.join("; ")})` : ""}`;
  return { ok, driver: current, reason };
}
