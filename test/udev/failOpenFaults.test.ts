/**
 * Fail-open, whatever ends the udev helper: for held devices in every situation the helper
 * meets (it binds, every candidate fails, the rules' own driver failed, no claim selects it,
 * the config is broken, the rules bound a device no claim selects), a fault is injected at each step of a run, one per run: each kernel
 * write and module load fails in every way it really can or throws, a signal arrives after
 * it, a module load never returns and udevd's SIGTERM follows, each file access of the tool
 * (sysfs reads, the state directory, the lock file, the config, the module indexes) fails,
 * or the clock runs the event's budget out. No run may end with the device still held and on
 * no driver, and the event has its one journal line. An override someone else set is never
 * cleared, whatever fails.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { UNBOUND_VIRTIO_BLK, vfioDrivers } from "../../support/simulatedHost.js";
import type { Fault, Operation } from "../../support/simulatedKernel.js";
import { runHelper, type HelperRunResult, type HelperScenario, type InjectedFault } from "../support/helperRun.js";

const DEVICE = UNBOUND_VIRTIO_BLK;
const CLAIM = `[Claim]\nAddress=${DEVICE}\n`;
const failing = { probe: { errno: "ENXIO" } } as const;

const HELD: HelperScenario[] = [
  { name: "held, a variant binds", address: DEVICE, config: CLAIM, override: HOLD_OVERRIDE },
  {
    name: "held, every candidate fails",
    address: DEVICE,
    config: CLAIM,
    override: HOLD_OVERRIDE,
    drivers: vfioDrivers({ virtio_vfio_pci: failing, vfio_pci: failing }),
  },
  {
    name: "the rules wrote their driver, whose probe failed",
    address: DEVICE,
    config: CLAIM,
    override: "virtio_vfio_pci",
    rules: { module: "virtio_vfio_pci", driver: "virtio_vfio_pci" },
    loaded: ["virtio_vfio_pci"],
    drivers: vfioDrivers({ virtio_vfio_pci: failing }),
  },
  {
    name: "held, no claim selects it",
    address: DEVICE,
    config: "[Claim]\nAddress=0000:00:09.0\n",
    override: HOLD_OVERRIDE,
  },
  { name: "held, the config is broken", address: DEVICE, config: "[Claim]\nNoSuchKey=1\n", override: HOLD_OVERRIDE },
  {
    name: "the rules bound their driver, but no claim selects it",
    address: DEVICE,
    config: "[Claim]\nAddress=0000:00:09.0\n",
    override: "virtio_vfio_pci",
    rules: { module: "virtio_vfio_pci", driver: "virtio_vfio_pci" },
    loaded: ["virtio_vfio_pci"],
  },
];

const FOREIGN: HelperScenario[] = [
  { name: "someone else's override", address: DEVICE, config: CLAIM, override: "pci-stub" },
  {
    name: "someone else's override, though the rules name a driver",
    address: DEVICE,
    config: CLAIM,
    override: "pci-stub",
    rules: { module: "vfio_pci", driver: "vfio-pci" },
  },
];

const ERRNO_FAULTS: Fault[] = [
  { errno: "EIO" },
  { errno: "EBUSY" },
  { errno: "ENODEV" },
  { errno: "EINVAL" },
  { errno: "ENOENT" },
  "hot-remove",
];

/** The failures an operation can really have (the fault matrix's list); past the clean run, any write's. */
function faultsFor(operation: Operation | undefined): Fault[] {
  if (operation?.kind === "modprobe") return ["modprobe-fail", "modprobe-timeout"];
  const faults = [...ERRNO_FAULTS];
  if (operation === undefined || /\/bind$|drivers_probe$/.test(operation.target)) faults.push("silent");
  if (operation !== undefined && /\/(bind|unbind)$/.test(operation.target)) faults.push("host-grab");
  return faults;
}
const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"];
const FS_ERRNOS = ["EIO", "ENOSPC", "EROFS", "EACCES", "ENOTDIR", "EMFILE"];

const isForeign = (scenario: HelperScenario): boolean => FOREIGN.includes(scenario);

/** What is wrong with how a run ended; nothing when it ended as every run must. */
function problemsOf(scenario: HelperScenario, fault: InjectedFault, result: HelperRunResult): string[] {
  const problems: string[] = [];
  if (!result.gone) {
    if (isForeign(scenario) && result.override !== scenario.override)
      problems.push(`someone else's override became ${String(result.override)}`);
    // Held (by the hold, the rules' driver, or a driver name the helper wrote) with no driver: never.
    if (!isForeign(scenario) && result.driver === null && result.override !== null)
      problems.push(`left held (${result.override}) with no driver`);
  }
  const lines = result.lines.filter((line) => line.includes(`${scenario.address}: `));
  if (lines.length !== 1) problems.push(`${lines.length} journal lines for the event`);
  if (lines[0]?.includes("cleared the hold") === true && result.override !== null)
    problems.push("the line says the hold was cleared, but it was not");
  return problems.map((problem) => `${scenario.name}, ${JSON.stringify(fault)}: ${problem} ${JSON.stringify(lines)}`);
}

/** Runs each fault; returns every run's problems, so that a failure lists all the cases at once. */
async function problemsOfRuns(scenario: HelperScenario, faults: readonly InjectedFault[]): Promise<string[]> {
  const problems: string[] = [];
  for (const fault of faults) problems.push(...problemsOf(scenario, fault, await runHelper(scenario, fault)));
  return problems;
}

interface Sizes {
  readonly operations: readonly Operation[];
  readonly fs: number;
}
const sizes = new Map<HelperScenario, Sizes>();

beforeAll(async () => {
  for (const scenario of [...HELD, ...FOREIGN]) {
    const clean = await runHelper(scenario, { kind: "none" });
    expect(problemsOf(scenario, { kind: "none" }, clean)).toEqual([]);
    sizes.set(scenario, { operations: clean.operations, fs: clean.fsCalls.length });
  }
});

function sizesOf(scenario: HelperScenario): Sizes {
  const found = sizes.get(scenario);
  if (found === undefined) throw new Error(`no clean run of ${scenario.name}`);
  return found;
}

describe("fail-open, whatever ends the udev helper", () => {
  for (const scenario of [...HELD, ...FOREIGN]) {
    it(`${scenario.name}: a fault at any kernel step, a throw there or a signal after it`, async () => {
      const { operations } = sizesOf(scenario);
      const faults: InjectedFault[] = [];
      // Two past the clean run's steps: the last resort's own writes, when a fault calls for it.
      for (let at = 0; at < operations.length + 2; at += 1) {
        for (const fault of faultsFor(operations[at])) faults.push({ kind: "kernel", at, fault });
        faults.push({ kind: "kernel-throws", at });
        faults.push({ kind: "signal", at, signal: SIGNALS[at % SIGNALS.length] as string });
        if (operations[at]?.kind === "modprobe") faults.push({ kind: "modprobe-hangs", at, signal: "SIGTERM" });
      }
      expect(await problemsOfRuns(scenario, faults)).toEqual([]);
    });

    it(`${scenario.name}: any file access of the tool fails`, async () => {
      const { fs } = sizesOf(scenario);
      const faults: InjectedFault[] = [];
      for (let at = 0; at < fs + 4; at += 1)
        faults.push({ kind: "fs", at, errno: FS_ERRNOS[at % FS_ERRNOS.length] as string });
      expect(await problemsOfRuns(scenario, faults)).toEqual([]);
    });
  }

  it("the budget runs out at any point, and the backstop fires past it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...HELD, ...FOREIGN),
        fc.integer({ min: 100_000, max: 175_000 }),
        fc.constantFrom(0, 1_000, 5_000, 20_000, 40_000),
        async (scenario, startMs, msPerOperation) => {
          const fault: InjectedFault = { kind: "clock", startMs, msPerOperation };
          expect(problemsOf(scenario, fault, await runHelper(scenario, fault))).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("any one fault, drawn at random, with any errno and signal", async () => {
    const scenarios = [...HELD, ...FOREIGN];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...scenarios).chain((scenario) => {
          const { operations, fs } = sizesOf(scenario);
          const step = fc.integer({ min: 0, max: operations.length + 2 });
          return fc.tuple(
            fc.constant(scenario),
            fc.oneof(
              step.chain((at) =>
                fc.record({
                  kind: fc.constant("kernel" as const),
                  at: fc.constant(at),
                  fault: fc.constantFrom(...faultsFor(operations[at])),
                }),
              ),
              fc.record({ kind: fc.constant("kernel-throws" as const), at: step }),
              fc.record({ kind: fc.constant("signal" as const), at: step, signal: fc.constantFrom(...SIGNALS) }),
              fc.record({
                kind: fc.constant("fs" as const),
                at: fc.integer({ min: 0, max: fs + 4 }),
                errno: fc.constantFrom(...FS_ERRNOS),
              }),
            ),
          );
        }),
        async ([scenario, fault]) => {
          expect(problemsOf(scenario, fault, await runHelper(scenario, fault))).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
