/**
 * The kernel's bind recipe, as data: the steps of one attempt at a candidate and the steps
 * of the way back when every candidate failed. Each step has two faces, one that does it and
 * one that says what it would do, and both the executor and `--dry-run` walk the same table,
 * so the plan an admin reads cannot drift from what runs (after kmod's `kmod_cmd` table).
 *
 * Each outcome is read back from sysfs rather than trusted: a write to drivers_probe reports
 * success even when nothing bound (drivers/pci/pci-driver.c, drivers/base/bus.c; see
 * docs/kernel-facts.md, section 4).
 */
import * as path from "node:path";
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

/** The sequence's context for one device, from the binder's environment. */
export function sequenceContext(env: Omit<SequenceContext, "address">, address: string): SequenceContext {
  return {
    sysfsRoot: env.sysfsRoot,
    address,
    kernel: env.kernel,
    modprobeTimeoutMs: env.modprobeTimeoutMs,
    builtinModules: env.builtinModules,
  };
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

/**
 * A restore write gets one retry: restoring is the safety net, and a transient EIO or
 * EBUSY there would otherwise leave the device worse off than we found it.
 */
function writeWithRetry(ctx: SequenceContext, what: string, file: string, value: string): string | null {
  return write(ctx, what, file, value) === null ? null : write(ctx, what, file, value);
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

// ---- the plan view: what --dry-run knows before anything runs ---------------------------

/** What the dry run knows about the device and one candidate. */
export interface PlanView {
  readonly sysfsRoot: string;
  readonly address: string;
  /** The driver the device is on now. */
  readonly currentDriver: string | null;
  readonly currentOverride: string | null;
  readonly module: string;
  /** Null until the module is loaded. */
  readonly driver: string | null;
  readonly builtin: boolean;
  /** 0 for the best candidate; later candidates start from an unbound device. */
  readonly index: number;
}

/** Paths as the admin knows them (/sys/...), whatever root the tool was given. */
function shown(view: { sysfsRoot: string }, file: string): string {
  return path.join("/sys", path.relative(view.sysfsRoot, file));
}

const driverLabel = (view: PlanView): string => view.driver ?? `<driver of ${view.module}>`;

function driverFile(view: PlanView, name: "bind" | "unbind", driver: string | null): string {
  const sys = sysfsPaths(view.sysfsRoot);
  if (driver !== null) return shown(view, sys[name](driver));
  // The driver name is learnt only once the module is loaded.
  return `${shown(view, sys.drivers)}/<driver of ${view.module}>/${name}`;
}

// ---- one attempt at a candidate ------------------------------------------------------------

interface AttemptState {
  readonly module: string;
  driver: string | null;
  /** What the bind write said; the read-back decides whether it matters. */
  bindProblem: string | null;
}

type StepResult = { readonly next: true } | { readonly bound: true } | { readonly failed: string };
const NEXT: StepResult = { next: true };

interface AttemptStep {
  describe(view: PlanView): string | null;
  run(ctx: SequenceContext, state: AttemptState): Promise<StepResult> | StepResult;
}

/** Load, override, unbind, bind, read back: the order the kernel's own recipe gives. */
export const ATTEMPT_STEPS: readonly AttemptStep[] = [
  {
    // Load the module and learn its PCI driver's name (vfio_pci registers vfio-pci).
    describe: (view) =>
      view.driver !== null ? null : view.builtin ? `${view.module} is built in` : `modprobe ${view.module}`,
    async run(ctx, state) {
      const loaded = await ensureDriverLoaded(ctx, state.module);
      if ("reason" in loaded) return { failed: loaded.reason };
      state.driver = loaded.driver;
      return NEXT;
    },
  },
  {
    // The override first: from then on no other driver can take the device (pci_match_device).
    describe: (view) =>
      `write ${driverLabel(view)} to ${shown(view, sysfsPaths(view.sysfsRoot).driverOverride(view.address))}`,
    run(ctx, state) {
      const file = sysfsPaths(ctx.sysfsRoot).driverOverride(ctx.address);
      const problem = write(ctx, "writing driver_override", file, state.driver as string);
      return problem === null ? NEXT : { failed: problem };
    },
  },
  {
    // Take it from whatever driver has it (an earlier candidate's attempt leaves it unbound).
    describe: (view) =>
      view.index === 0 && view.currentDriver !== null
        ? `write ${view.address} to ${driverFile(view, "unbind", view.currentDriver)}`
        : null,
    run(ctx, state) {
      const current = boundDriver(ctx);
      if (current === state.driver) return { bound: true };
      if (current === null) return NEXT;
      const problem = write(ctx, `unbinding ${current}`, sysfsPaths(ctx.sysfsRoot).unbind(current), ctx.address);
      return problem === null ? NEXT : { failed: problem };
    },
  },
  {
    // The driver's own bind file reports the probe's error; the read-back decides.
    describe: (view) => `write ${view.address} to ${driverFile(view, "bind", view.driver)}`,
    run(ctx, state) {
      const driver = state.driver as string;
      state.bindProblem = write(ctx, `binding ${driver}`, sysfsPaths(ctx.sysfsRoot).bind(driver), ctx.address);
      return NEXT;
    },
  },
  {
    describe: (view) => `read ${shown(view, sysfsPaths(view.sysfsRoot).boundDriverLink(view.address))} back`,
    run(ctx, state) {
      const after = boundDriver(ctx);
      if (after === state.driver) return { bound: true };
      if (after !== null) return { failed: `the device went to ${after} instead` };
      return { failed: state.bindProblem ?? "probe bound nothing" };
    },
  },
];

/** Runs the attempt steps for one candidate. */
export async function attemptCandidate(ctx: SequenceContext, module: string): Promise<AttemptResult> {
  const state: AttemptState = { module, driver: null, bindProblem: null };
  for (const step of ATTEMPT_STEPS) {
    const result = await step.run(ctx, state);
    if ("bound" in result) return { module, driver: state.driver, bound: true, reason: "bound" };
    if ("failed" in result) return { module, driver: state.driver, bound: false, reason: result.failed };
  }
  // The read-back step always decides; this line only satisfies the compiler.
  return { module, driver: state.driver, bound: false, reason: "probe bound nothing" };
}

// ---- the way back ---------------------------------------------------------------------------

/** What the restore knows: the original driver and override (null: none). */
export interface RestoreTarget {
  readonly driver: string | null;
  readonly override: string | null;
  /**
   * The device was held for vfio-autobind (driver null): once the override is cleared, let
   * the driver core choose, so that it goes where it would have gone without us (fail-open).
   */
  readonly probe?: boolean;
}

interface RestoreState {
  current: string | null;
  readonly problems: string[];
  overrideProblem: string | null;
}

interface RestoreStep {
  describe(view: { sysfsRoot: string; address: string }, target: RestoreTarget): string | null;
  run(ctx: SequenceContext, target: RestoreTarget, state: RestoreState): void;
}

/** Override back, the wrong driver off, the original driver on (or the driver core's choice), read back. */
export const RESTORE_STEPS: readonly RestoreStep[] = [
  {
    describe: (view, target) =>
      `write ${target.override ?? "(clear)"} to ${shown(view, sysfsPaths(view.sysfsRoot).driverOverride(view.address))}`,
    run(ctx, target, state) {
      // "\n" clears driver_override; an empty write would not reach the kernel at all.
      const file = sysfsPaths(ctx.sysfsRoot).driverOverride(ctx.address);
      state.overrideProblem = writeWithRetry(ctx, "restoring driver_override", file, target.override ?? "\n");
      if (state.overrideProblem !== null) state.problems.push(state.overrideProblem);
      state.current = boundDriver(ctx);
    },
  },
  {
    describe: (_view, target) =>
      `unbind whatever driver it is on${target.driver === null ? "" : ` unless it is ${target.driver}`}`,
    run(ctx, target, state) {
      if (state.current === null || state.current === target.driver) return;
      const current = state.current;
      const problem = writeWithRetry(
        ctx,
        `unbinding ${current}`,
        sysfsPaths(ctx.sysfsRoot).unbind(current),
        ctx.address,
      );
      if (problem !== null) state.problems.push(problem);
      state.current = boundDriver(ctx);
    },
  },
  {
    describe: (view, target) =>
      target.driver === null
        ? target.probe === true
          ? `write ${view.address} to ${shown(view, sysfsPaths(view.sysfsRoot).driversProbe)}, so the kernel gives it the driver it would have without vfio-autobind`
          : "leave it unbound, as it was"
        : `write ${view.address} to ${shown(view, sysfsPaths(view.sysfsRoot).bind(target.driver))}, else to ${shown(view, sysfsPaths(view.sysfsRoot).driversProbe)}`,
    run(ctx, target, state) {
      if (target.driver === null && target.probe === true && state.current === null && state.overrideProblem === null) {
        writeWithRetry(ctx, "probing", sysfsPaths(ctx.sysfsRoot).driversProbe, ctx.address);
        state.current = boundDriver(ctx);
        return;
      }
      if (target.driver === null || state.current !== null) return;
      const sys = sysfsPaths(ctx.sysfsRoot);
      const problem = writeWithRetry(ctx, `binding ${target.driver}`, sys.bind(target.driver), ctx.address);
      state.current = boundDriver(ctx);
      if (state.current === null) {
        // Let the driver core choose, as at boot, before giving up.
        writeWithRetry(ctx, "probing", sys.driversProbe, ctx.address);
        state.current = boundDriver(ctx);
      }
      if (state.current !== target.driver && problem !== null) state.problems.push(problem);
    },
  },
];

/**
 * Puts the original override and driver back. An original driver of null means the device
 * was unbound, and stays so.
 */
export function restoreOriginal(ctx: SequenceContext, target: RestoreTarget): RestoreResult {
  const state: RestoreState = { current: null, problems: [], overrideProblem: null };
  for (const step of RESTORE_STEPS) step.run(ctx, target, state);
  const current = state.current;
  const probed = target.driver === null && target.probe === true;
  // After a probe, whichever driver the kernel chose is where it would have gone without us.
  const ok = (probed || current === target.driver) && state.overrideProblem === null;
  const where = current === null ? "unbound" : `on ${current}`;
  const reason = ok
    ? probed
      ? `cleared the hold; ${current === null ? "no driver took it" : `the kernel gave it to ${current}`}`
      : target.driver === null
        ? "left unbound, as it was"
        : `restored ${target.driver}`
    : `restore incomplete, device is ${where}${state.problems.length > 0 ? ` (${state.problems.join("; ")})` : ""}`;
  return { ok, driver: current, reason };
}

/** The restore steps as --dry-run prints them. */
export function describeRestore(view: { sysfsRoot: string; address: string }, target: RestoreTarget): string[] {
  return RESTORE_STEPS.map((step) => step.describe(view, target)).filter((line): line is string => line !== null);
}

/** Asks the driver core to find a driver, as at boot, and says which one bound (if any). */
export function probeDevice(ctx: SequenceContext): string | null {
  write(ctx, "probing", sysfsPaths(ctx.sysfsRoot).driversProbe, ctx.address);
  return boundDriver(ctx);
}
