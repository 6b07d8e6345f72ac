/**
 * Fault injection over every step of the bind sequence. For each scenario, each operation
 * index and each failure that operation can really have, a fresh host is built, the
 * fault is injected, and the outcome is checked: nothing escapes, the status and the
 * one-line reason fit, and the device ends on a VFIO target or back on its original
 * driver with its original override (or is gone, when it was removed).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { bindDevice, type BindOutcome } from "../../src/binder/bindDevice.js";
import { attemptsOf } from "../../src/binder/outcomes.js";
import { releaseDevice } from "../../src/binder/releaseDevice.js";
import { readRecord, recordFile } from "../../src/binder/stateStore.js";
import { LockError, type HeldLock } from "../../src/lock/deviceLock.js";
import { deviceExists } from "../../src/sysfs/pciDevice.js";
import {
  bindRequest,
  makeSimulatedHost,
  UNBOUND_VIRTIO_BLK,
  VF2,
  VIRTIO_NET,
  vfioDrivers,
  type SimulatedHost,
} from "../../support/simulatedHost.js";
import type { Fault, Operation, SimulatedDriver } from "../../support/simulatedKernel.js";

const ERRNOS = ["EBUSY", "ENODEV", "EINVAL", "EIO", "ENOENT"] as const;

/** The failures each kind of operation can really have. */
function faultsFor(operation: Operation): Fault[] {
  if (operation.kind === "modprobe") return ["modprobe-fail", "modprobe-timeout"];
  const faults: Fault[] = [...ERRNOS.map((errno) => ({ errno })), "hot-remove"];
  if (/\/(bind)$|drivers_probe$/.test(operation.target)) faults.push("silent");
  if (/\/(bind|unbind)$/.test(operation.target)) faults.push("host-grab");
  return faults;
}

interface Scenario {
  readonly name: string;
  readonly address: string;
  readonly drivers: SimulatedDriver[];
  readonly original: { readonly driver: string | null; readonly override: string | null };
  /** Drivers a successful bind may end on. */
  readonly targets: readonly string[];
}

function hostFor(scenario: Scenario): SimulatedHost {
  const host = makeSimulatedHost({ drivers: scenario.drivers });
  if (scenario.original.override !== null)
    host.tree.writeAttribute(scenario.address, "driver_override", `${scenario.original.override}\n`);
  return host;
}

const SCENARIOS: Scenario[] = [
  {
    name: "bound device, variant then generic",
    address: VIRTIO_NET,
    drivers: vfioDrivers(),
    original: { driver: "virtio-pci", override: null },
    targets: ["virtio_vfio_pci", "vfio-pci"],
  },
  {
    name: "bound device, every candidate fails, so the restore path runs",
    address: VIRTIO_NET,
    drivers: vfioDrivers({ virtio_vfio_pci: { probe: { errno: "EIO" } }, vfio_pci: { probe: "silent" } }),
    original: { driver: "virtio-pci", override: null },
    targets: [],
  },
  {
    name: "VF on its host driver, variant already loaded, probe fails, generic binds",
    address: VF2,
    drivers: vfioDrivers({ mlx5_vfio_pci: { loaded: true, probe: { errno: "ENXIO" } }, vfio_pci: { loaded: true } }),
    original: { driver: "mlx5_core", override: null },
    targets: ["vfio-pci"],
  },
  {
    name: "bound device with an override of its own, every candidate fails",
    address: VIRTIO_NET,
    drivers: vfioDrivers({ virtio_vfio_pci: { probe: "silent" }, vfio_pci: { load: "fail" } }),
    original: { driver: "virtio-pci", override: "virtio-pci" },
    targets: [],
  },
  {
    name: "unbound device",
    address: UNBOUND_VIRTIO_BLK,
    drivers: vfioDrivers(),
    original: { driver: null, override: null },
    targets: ["virtio_vfio_pci", "vfio-pci"],
  },
];

function describeFault(fault: Fault): string {
  return typeof fault === "string" ? fault : fault.errno;
}

/** The matrix is about the kernel steps; the real lock is tested on its own and below. */
const noLock = (): Promise<HeldLock> => Promise.resolve({ file: "(none)", release: () => undefined });

function checkOutcome(scenario: Scenario, host: SimulatedHost, outcome: BindOutcome, label: string): void {
  expect(outcome.message.includes("\n"), label).toBe(false);
  expect(outcome.message.startsWith(`${scenario.address}: `), label).toBe(true);
  const record = readRecord(host.stateDir, scenario.address);
  if (!deviceExists(host.tree.root, scenario.address)) {
    expect(outcome.status, label).toBe("removed");
    expect(outcome.message, label).toMatch(/the device was removed$/);
    expect(record, label).toBeNull();
    return;
  }
  const driver = host.kernel.boundDriver(scenario.address);
  const override = host.kernel.driverOverride(scenario.address);
  if (outcome.status === "bound") {
    expect(scenario.targets, label).toContain(driver);
    expect(outcome.driver, label).toBe(driver);
    expect(override, label).toBe(driver);
    expect(record?.status, label).toBe("bound");
    expect(record?.originalDriver, label).toBe(scenario.original.driver);
  } else {
    expect(outcome.status, label).toBe("failed");
    expect({ driver, override }, label).toEqual(scenario.original);
    expect(record, label).toBeNull();
    expect(outcome.message, label).toMatch(
      scenario.original.driver === null
        ? /; left unbound, as it was$/
        : new RegExp(`; restored ${scenario.original.driver}$`),
    );
  }
  // A failed attempt always says why, in words an admin can act on.
  for (const attempt of attemptsOf(outcome).filter((a) => !a.bound)) {
    expect(attempt.reason, label).toMatch(
      /failed: E[A-Z]+|^modprobe \S+ failed: |timed out|went to|bound nothing|registers no PCI driver/,
    );
  }
}

describe("fault matrix", () => {
  const counts: Record<string, number> = {};

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: every injected fault ends safely`, async () => {
      // A fault at index i leaves operations 0..i-1 as in the clean run, so the clean
      // run names every operation a single fault can hit.
      const clean = hostFor(scenario);
      await bindDevice(bindRequest(scenario.address), clean.env({ lock: noLock }));
      const operations = [...clean.kernel.operations];
      clean.cleanup();

      let cases = 0;
      for (const [at, operation] of operations.entries()) {
        for (const fault of faultsFor(operation)) {
          const host = hostFor(scenario);
          try {
            host.kernel.injectFault(at, fault);
            const outcome = await bindDevice(bindRequest(scenario.address), host.env({ lock: noLock }));
            cases += 1;
            checkOutcome(
              scenario,
              host,
              outcome,
              `${scenario.name}, op ${at} (${operation.kind} ${operation.target}), ${describeFault(fault)}`,
            );
          } finally {
            host.cleanup();
          }
        }
      }
      counts[scenario.name] = cases;
      expect(cases).toBeGreaterThanOrEqual(operations.length * 2);
    });
  }

  it("reports its size", () => {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    // Printed so the figure can be quoted; the assertion keeps the matrix from shrinking unnoticed.
    console.log(`fault matrix: ${total} cases (${JSON.stringify(counts)})`);
    expect(total).toBeGreaterThan(150);
  });
});

describe("lock and state faults", () => {
  it("a lock that cannot be taken changes nothing", async () => {
    const host = makeSimulatedHost();
    try {
      const env = host.env({
        lock: () => Promise.reject(new LockError("timed out after 60 s waiting for lock x (held by pid 4242)")),
      });
      await expect(bindDevice(bindRequest(VIRTIO_NET), env)).rejects.toThrow(/held by pid 4242/);
      expect(host.kernel.operations).toEqual([]);
      expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    } finally {
      host.cleanup();
    }
  });

  it("a state directory that cannot be written stops the bind before any change", async () => {
    const host = makeSimulatedHost();
    try {
      fs.writeFileSync(path.join(host.stateDir, "devices"), "not a directory");
      await expect(bindDevice(bindRequest(VIRTIO_NET), host.env())).rejects.toThrow(
        new RegExp(`cannot (read|write) ${host.stateDir}/devices/${VIRTIO_NET}.json: (ENOTDIR|EEXIST)`),
      );
      expect(host.kernel.operations).toEqual([]);
      expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    } finally {
      host.cleanup();
    }
  });

  it("a final record that cannot be written keeps the first one, so release still works", async () => {
    const host = makeSimulatedHost();
    try {
      const env = host.env();
      const realWrite = env.kernel.writeAttribute.bind(env.kernel);
      let blocked = false;
      const kernel = {
        ...env.kernel,
        loadModule: env.kernel.loadModule.bind(env.kernel),
        writeAttribute(file: string, value: string) {
          if (!blocked) {
            // After the "binding" record exists, make the next atomic write fail (EISDIR).
            fs.mkdirSync(`${recordFile(host.stateDir, VIRTIO_NET)}.${process.pid}.tmp`);
            blocked = true;
          }
          realWrite(file, value);
        },
      };
      const outcome = await bindDevice(bindRequest(VIRTIO_NET), { ...env, kernel });
      expect(outcome.status).toBe("bound");
      expect(outcome.message).toMatch(/\(warning: cannot write .*: EISDIR\)$/);
      expect(readRecord(host.stateDir, VIRTIO_NET)).toMatchObject({ status: "binding", originalDriver: "virtio-pci" });
      const released = await releaseDevice({ address: VIRTIO_NET, force: false, dryRun: false }, host.env());
      expect(released.status).toBe("released");
      expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    } finally {
      host.cleanup();
    }
  });
});
