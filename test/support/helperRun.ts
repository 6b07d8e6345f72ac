/**
 * One run of the udev helper (handleAddEvent, as the helper's bundle runs it) in this
 * process, over a simulated host, with one fault injected wherever a test asks: a kernel
 * operation failing or throwing, a signal arriving after any operation, a modprobe that
 * never returns, any file access of the tool failing, or a clock that runs the event's
 * budget out. The stand-in process models what the real one would do: a signal nobody
 * catches, or an exit, ends it at once, so nothing it would still have done happens.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { KernelIo } from "../../src/binder/kernelIo.js";
import { sysfsPaths } from "../../src/paths.js";
import { RULE_ENV } from "../../src/rules/ruleEnv.js";
import { handleAddEvent } from "../../src/helper/handleAddEvent.js";
import { parseHelperOptions } from "../../src/helper/helperOptions.js";
import type { HelperProcess } from "../../src/helper/helperProcess.js";
import { parseKmsgRecords } from "../../support/fakeJournal.js";
import { makeSimulatedHost, type SimulatedHost } from "../../support/simulatedHost.js";
import type { Fault, Operation, SimulatedDriver } from "../../support/simulatedKernel.js";
import { injectFsFaults, type FsCall } from "./fsFaults.js";

export interface HelperScenario {
  readonly name: string;
  readonly address: string;
  readonly drivers?: SimulatedDriver[];
  /** The config directory's one file. */
  readonly config: string;
  /** driver_override before the event: the rules' hold, their driver, or someone else's value. */
  readonly override: string;
  /** What the rules say they wrote (RULE_ENV), when they did. */
  readonly rules?: { readonly module: string; readonly driver: string };
  /** Modules the rules loaded before the helper ran. */
  readonly loaded?: readonly string[];
  /** Anything else about the host before the event (a state directory out of shape, ...). */
  readonly before?: (host: SimulatedHost) => void;
}

export type InjectedFault =
  | { readonly kind: "none" }
  | { readonly kind: "kernel"; readonly at: number; readonly fault: Fault }
  | { readonly kind: "kernel-throws"; readonly at: number }
  | { readonly kind: "signal"; readonly at: number; readonly signal: string }
  | { readonly kind: "modprobe-hangs"; readonly at: number; readonly signal: string }
  | { readonly kind: "fs"; readonly at: number; readonly errno: string }
  | { readonly kind: "clock"; readonly startMs: number; readonly msPerOperation: number };

export interface HelperRunResult {
  readonly driver: string | null;
  readonly override: string | null;
  readonly gone: boolean;
  /** The journal lines (kernel log stand-in), as `info ...` or `error ...`. */
  readonly lines: string[];
  /** The exit code returned or passed to exit(); null when the process was killed by a signal it did not catch. */
  readonly exitCode: number | null;
  /** Kernel operations (writes and module loads) the run made, the last resort's included. */
  readonly kernelOperations: number;
  /** What each of them was, as the simulated kernel saw it. */
  readonly operations: readonly Operation[];
  /** File accesses of the tool in the run's roots. */
  readonly fsCalls: readonly FsCall[];
}

/** Holds the host's state as the rules left it, ready for the helper. */
function prepare(scenario: HelperScenario): { host: SimulatedHost; work: string } {
  const host = makeSimulatedHost(scenario.drivers === undefined ? {} : { drivers: scenario.drivers });
  const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-helper-")));
  fs.mkdirSync(path.join(work, "config"));
  fs.writeFileSync(path.join(work, "config", "50-claim.conf"), scenario.config);
  fs.mkdirSync(path.join(work, "modprobe"));
  fs.writeFileSync(path.join(work, "kmsg"), "");
  for (const module of scenario.loaded ?? []) host.kernel.loadModuleNow(module, 1000);
  host.tree.writeAttribute(scenario.address, "driver_override", `${scenario.override}\n`);
  // A probe as the rules ask for one: the override decides who may take the device.
  host.kernel.writeAttribute(sysfsPaths(host.tree.root).driversProbe, scenario.address);
  host.kernel.operations.length = 0;
  scenario.before?.(host);
  return { host, work };
}

/** Never settles: a modprobe stuck in the kernel. */
const never = new Promise<never>(() => undefined);

export async function runHelper(scenario: HelperScenario, fault: InjectedFault): Promise<HelperRunResult> {
  const { host, work } = prepare(scenario);
  const real = host.kernel;
  const kmsg = path.join(work, "kmsg");
  let inKernel = false;
  let index = 0;
  let fsCalls: readonly FsCall[] = [];
  let result: HelperRunResult | null = null;
  let onDeath: () => void = () => undefined;
  const died = new Promise<void>((resolve) => {
    onDeath = resolve;
  });
  /** The end of the process: what it leaves behind is read now, before anything else could run. */
  const die = (exitCode: number | null): void => {
    if (result !== null) return;
    inKernel = true; // reading the tree is not the tool's doing
    try {
      const lines = parseKmsgRecords(fs.readFileSync(kmsg, "utf8")).map(
        (entry) => `${entry.priority <= 3 ? "error" : "info"} ${entry.message}`,
      );
      result = {
        driver: real.boundDriver(scenario.address),
        override: real.driverOverride(scenario.address),
        gone: !fs.existsSync(sysfsPaths(host.tree.root).device(scenario.address)),
        lines,
        exitCode,
        kernelOperations: index,
        operations: [...real.operations],
        fsCalls: [...fsCalls],
      };
    } finally {
      inKernel = false;
    }
    onDeath();
  };
  const dead = (): boolean => result !== null;
  const stops: ((cause: string) => void)[] = [];
  let clock = fault.kind === "clock" ? fault.startMs : 1_000;
  const proc: HelperProcess = {
    uptimeMs: () => clock,
    onStop(stop) {
      stops.push(stop);
      return () => void stops.splice(stops.indexOf(stop), 1);
    },
    exit: die,
  };
  /** A signal as the kernel delivers it: to the handlers if there are any, else the default action. */
  const deliver = (signal: string): void => {
    if (stops.length === 0) die(null);
    else for (const stop of [...stops]) stop(signal);
  };

  const inRealKernel = <T>(work: () => T): T => {
    if (dead()) throw new Error("the process has ended");
    inKernel = true;
    try {
      return work();
    } finally {
      inKernel = false;
    }
  };
  if (fault.kind === "kernel") real.injectFault(fault.at, fault.fault);
  const tick = (): number => {
    clock += fault.kind === "clock" ? fault.msPerOperation : 0;
    return index++;
  };
  const kernel: KernelIo = {
    writeAttribute(file, value) {
      const at = tick();
      if (fault.kind === "kernel-throws" && fault.at === at) throw new Error("injected failure");
      inRealKernel(() => real.writeAttribute(file, value));
      if (fault.kind === "signal" && fault.at === at) deliver(fault.signal);
    },
    async loadModule(module, timeoutMs) {
      const at = tick();
      if (fault.kind === "kernel-throws" && fault.at === at) throw new Error("injected failure");
      if (fault.kind === "modprobe-hangs" && fault.at === at) {
        setTimeout(() => deliver(fault.signal), 1);
        return never;
      }
      await inRealKernel(() => real.loadModule(module, timeoutMs));
      if (fault.kind === "signal" && fault.at === at) deliver(fault.signal);
    },
  };

  const faults = injectFsFaults({
    roots: [host.tree.root, host.stateDir, host.modulesDir, host.procRoot, host.devRoot, work],
    ...(fault.kind === "fs" ? { at: fault.at, errno: fault.errno } : {}),
    // The kernel's own bookkeeping, and the journal: a line lost there is not a hold kept.
    exempt: (file) => inKernel || file === kmsg,
  });
  fsCalls = faults.calls;
  const args = host.rootArgs({
    configDir: path.join(work, "config"),
    modprobeRoot: path.join(work, "modprobe"),
    kmsg,
    journalSocket: path.join(work, "no-journal"),
  });
  const event: NodeJS.ProcessEnv = {
    ACTION: "add",
    SUBSYSTEM: "pci",
    PCI_SLOT_NAME: scenario.address,
    [RULE_ENV.claim]: "50-claim.conf:1",
    ...(scenario.rules === undefined
      ? {}
      : { [RULE_ENV.module]: scenario.rules.module, [RULE_ENV.driver]: scenario.rules.driver }),
  };
  try {
    const run = handleAddEvent(parseHelperOptions(args), event, { kernelIo: () => kernel }, proc).then(die, () =>
      die(1),
    );
    await Promise.race([run, died]);
  } finally {
    faults.restore();
    host.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return result as unknown as HelperRunResult;
}
