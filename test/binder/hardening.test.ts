/**
 * The binder under an attacker and an unlucky admin: a slow
 * kernel against the deadline, tampered records, planted symlinks, and the safety rules on
 * the way back. Each test fails on the binder before the budget, record validation and
 * release rules were added.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { bindDevice, type BindEnvironment } from "../../src/binder/bindDevice.js";
import { budgetFrom, MODPROBE_TIMEOUT_MS, SYSFS_STEPS_MS } from "../../src/binder/budget.js";
import type { KernelIo } from "../../src/binder/kernelIo.js";
import { attemptsOf } from "../../src/binder/outcomes.js";
import { releaseDevice } from "../../src/binder/releaseDevice.js";
import { readRecord, recordFile } from "../../src/binder/stateStore.js";
import { temporaryNameFor } from "../../src/files/safeFiles.js";
import { ModuleLoadError } from "../../src/kmod/loadModule.js";
import type { HeldLock } from "../../src/lock/deviceLock.js";
import {
  bindRequest,
  makeSimulatedHost,
  NVME,
  VIRTIO_NET,
  vfioDrivers,
  type SimulatedHost,
} from "../../support/simulatedHost.js";
import type { ProbeBehaviour } from "../../support/simulatedKernel.js";

let host: SimulatedHost | undefined;
afterEach(() => {
  host?.cleanup();
  host = undefined;
});

/** A clock the slow kernel advances: the test controls time, nothing sleeps. */
class FakeClock {
  private t = 0;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** The simulated kernel, with every write and module load taking the time `delays` gives it. */
function slowKernel(inner: KernelIo, clock: FakeClock, delays: { write(): number; modprobe(): number }): KernelIo {
  return {
    writeAttribute(file, value) {
      clock.advance(delays.write());
      inner.writeAttribute(file, value);
    },
    async loadModule(module, timeoutMs) {
      // execa takes a timeout of 0 as "none": the binder must never start a load it cannot bound.
      expect(timeoutMs).toBeGreaterThanOrEqual(1_000);
      const delay = delays.modprobe();
      if (delay > timeoutMs) {
        clock.advance(timeoutMs);
        throw new ModuleLoadError(`modprobe ${module} timed out after ${Math.round(timeoutMs / 1000)} s`);
      }
      clock.advance(delay);
      await inner.loadModule(module, timeoutMs);
    },
  };
}

function timedEnv(h: SimulatedHost, clock: FakeClock, kernel: KernelIo, budgetMs: number, lockMs = 0): BindEnvironment {
  const lock = (_key: string, timeoutMs: number): Promise<HeldLock> => {
    clock.advance(Math.min(lockMs, timeoutMs));
    return Promise.resolve({ file: "(none)", release: () => undefined });
  };
  return h.env({ kernel, budget: budgetFrom(clock.now, budgetMs), modprobeTimeoutMs: MODPROBE_TIMEOUT_MS, lock });
}

describe("B: the deadline is a budget the bind sequence respects", () => {
  it("after a fast failure, does not start an attempt it could not finish, and restores", async () => {
    host = makeSimulatedHost({ drivers: vfioDrivers({ virtio_vfio_pci: { probe: { errno: "EIO" } } }) });
    const clock = new FakeClock();
    // The first candidate's modprobe takes 7 s, its probe fails; then 50 - 7 - 0.75 s is left,
    // less than another modprobe (30 s) + sysfs steps (5 s) + restore (10 s).
    const kernel = slowKernel(host.kernel, clock, { write: () => 250, modprobe: () => 7_000 });
    const result = await bindDevice(bindRequest(VIRTIO_NET), timedEnv(host, clock, kernel, 50_000));
    expect(result.status).toBe("failed");
    expect(attemptsOf(result).map((a) => a.module)).toEqual(["virtio_vfio_pci", "vfio_pci"]);
    expect(attemptsOf(result)[1]?.reason).toMatch(/^not tried: 42 s left of the deadline/);
    expect(host.kernel.operations.some((o) => o.kind === "modprobe" && o.target === "vfio_pci")).toBe(false);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    expect(host.kernel.driverOverride(VIRTIO_NET)).toBeNull();
    expect(readRecord(host.stateDir, VIRTIO_NET)).toBeNull();
    expect(result.message).toMatch(/; restored virtio-pci$/);
    expect(clock.now()).toBeLessThanOrEqual(50_000);
  });

  it("with too little left even to start, takes no lock and writes nothing", async () => {
    host = makeSimulatedHost();
    const clock = new FakeClock();
    const kernel = slowKernel(host.kernel, clock, { write: () => 0, modprobe: () => 0 });
    const result = await bindDevice(bindRequest(VIRTIO_NET), timedEnv(host, clock, kernel, 20_000));
    expect(result.status).toBe("refused");
    expect(result.message).toMatch(/only 20 s left of the deadline; not started$/);
    expect(host.kernel.operations).toEqual([]);
  });

  it("property: a kernel whose every step takes a random time ends on a VFIO driver or restored, within the budget", async () => {
    const probe = fc.constantFrom<ProbeBehaviour>("ok", "silent", { errno: "EIO" });
    // One simulated host per pair of probe behaviours, reused across cases.
    const hosts = new Map<string, SimulatedHost>();
    let cases = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            budgetMs: fc.integer({ min: 0, max: 150_000 }),
            lockMs: fc.integer({ min: 0, max: 90_000 }),
            // Each sysfs write takes up to a quarter of what one attempt's steps are given (an
            // attempt makes 3 writes; a restore at most 8 with retries, inside its 10 s reserve).
            writeDelays: fc.array(fc.integer({ min: 0, max: SYSFS_STEPS_MS / 4 }), { minLength: 16, maxLength: 16 }),
            modprobeDelays: fc.array(fc.integer({ min: 0, max: 2 * MODPROBE_TIMEOUT_MS }), {
              minLength: 4,
              maxLength: 4,
            }),
            variantProbe: probe,
            genericProbe: probe,
          }),
          async (c) => {
            cases += 1;
            const key = `${JSON.stringify(c.variantProbe)} ${JSON.stringify(c.genericProbe)}`;
            let h = hosts.get(key);
            if (h === undefined) {
              h = makeSimulatedHost({
                drivers: vfioDrivers({
                  virtio_vfio_pci: { probe: c.variantProbe },
                  vfio_pci: { probe: c.genericProbe },
                }),
              });
              hosts.set(key, h);
            } else if (readRecord(h.stateDir, VIRTIO_NET) !== null) {
              // The last case bound it: give it back so every case starts on virtio-pci.
              expect((await releaseDevice({ address: VIRTIO_NET, force: false, dryRun: false }, h.env())).status).toBe(
                "released",
              );
            }
            const clock = new FakeClock();
            let w = 0;
            let m = 0;
            const kernel = slowKernel(h.kernel, clock, {
              write: () => c.writeDelays[w++ % c.writeDelays.length] ?? 0,
              modprobe: () => c.modprobeDelays[m++ % c.modprobeDelays.length] ?? 0,
            });
            const result = await bindDevice(bindRequest(VIRTIO_NET), timedEnv(h, clock, kernel, c.budgetMs, c.lockMs));
            const driver = h.kernel.boundDriver(VIRTIO_NET);
            const record = readRecord(h.stateDir, VIRTIO_NET);
            if (result.status === "bound") {
              expect(["virtio_vfio_pci", "vfio-pci"]).toContain(driver);
              expect(record?.status).toBe("bound");
            } else {
              expect(["failed", "refused"]).toContain(result.status);
              expect(driver).toBe("virtio-pci");
              expect(h.kernel.driverOverride(VIRTIO_NET)).toBeNull();
              expect(record).toBeNull();
            }
            // The sequence never spends more than it was given: the restore runs out of the
            // reserve it kept back.
            expect(clock.now()).toBeLessThanOrEqual(c.budgetMs);
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      for (const h of hosts.values()) h.cleanup();
    }
    expect(cases).toBe(300);
  });
});

describe("C: stored data is data, not paths", () => {
  const tamper = (h: SimulatedHost, fields: Record<string, unknown>): void => {
    const file = recordFile(h.stateDir, NVME);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const record = {
      version: 1,
      address: NVME,
      status: "bound",
      originalDriver: "nvme",
      originalOverride: null,
      module: "vfio_pci",
      driver: "vfio-pci",
      time: "2026-11-24T12:00:00.000Z",
      ...fields,
    };
    fs.writeFileSync(file, JSON.stringify(record));
  };

  it("a record whose originalDriver climbs out of sysfs is refused; release writes nothing", async () => {
    host = makeSimulatedHost();
    await bindDevice(bindRequest(NVME), host.env());
    const before = host.kernel.operations.length;
    tamper(host, { originalDriver: "../../../../tmp/owned" });
    await expect(releaseDevice({ address: NVME, force: false, dryRun: false }, host.env())).rejects.toThrow(
      /not a valid vfio-autobind record for 0000:00:04\.0; move it away/,
    );
    expect(host.kernel.operations.length).toBe(before);
  });

  it("property: arbitrary record contents never cause a write outside the sysfs root", async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-outside-"));
    const name = fc.oneof(
      fc.constant(null),
      fc.string({ maxLength: 40 }),
      fc.constantFrom("..", "../..", `../../../..${outside}`, "a/b", "nvme\n", "vfio-pci", "nvme", ".", ""),
      fc.stringMatching(/^[./a-z_-]{1,20}$/),
    );
    // One host for every case: each case puts the device on vfio-pci again if the last left it elsewhere.
    const h = makeSimulatedHost();
    host = h;
    let cases = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.record({ originalDriver: name, originalOverride: name, module: name, driver: name }),
          async (fields) => {
            cases += 1;
            if (h.kernel.boundDriver(NVME) !== "vfio-pci") {
              fs.rmSync(recordFile(h.stateDir, NVME), { force: true });
              h.tree.writeAttribute(NVME, "driver_override", "(null)\n");
              const bound = await bindDevice(bindRequest(NVME, { force: true }), h.env());
              expect(bound.status).toBe("bound");
            }
            const before = h.kernel.operations.length;
            tamper(h, fields);
            try {
              await releaseDevice({ address: NVME, force: false, dryRun: false }, h.env());
            } catch (error) {
              expect(String(error)).toMatch(/not a valid vfio-autobind record/);
            }
            for (const op of h.kernel.operations.slice(before)) {
              expect(op.target.startsWith("..")).toBe(false);
              expect(path.isAbsolute(op.target)).toBe(false);
            }
            expect(fs.readdirSync(outside)).toEqual([]);
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
    expect(cases).toBe(300);
  });

  it("a symlink planted at the record's temporary name is not followed", async () => {
    host = makeSimulatedHost();
    const victim = path.join(host.stateDir, "victim");
    fs.writeFileSync(victim, "precious\n");
    const file = recordFile(host.stateDir, VIRTIO_NET);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.symlinkSync(victim, temporaryNameFor(file));
    const result = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(result.status).toBe("bound");
    expect(fs.readFileSync(victim, "utf8")).toBe("precious\n");
    expect(readRecord(host.stateDir, VIRTIO_NET)?.status).toBe("bound");
  });
});

describe("D: --force does not bypass the safety checks on the way back", () => {
  function mountNvmeOnRoot(h: SimulatedHost): void {
    const dir = path.join(h.tree.deviceDir(NVME), "nvme", "nvme0", "nvme0n1");
    fs.mkdirSync(path.join(h.tree.root, "class", "block"), { recursive: true });
    fs.mkdirSync(path.join(dir, "holders"), { recursive: true });
    fs.symlinkSync(path.join(h.tree.root, "class", "block"), path.join(dir, "subsystem"));
    fs.writeFileSync(path.join(dir, "dev"), "259:0\n");
    fs.writeFileSync(
      path.join(h.procRoot, "self", "mountinfo"),
      "22 1 259:0 / / rw,relatime shared:1 - ext4 /dev/nvme0n1 rw\n",
    );
  }

  it("release --force refuses an NVMe on its host driver with its namespace mounted on /", async () => {
    host = makeSimulatedHost();
    mountNvmeOnRoot(host);
    expect((await bindDevice(bindRequest(NVME), host.env())).status).toBe("refused");
    const result = await releaseDevice({ address: NVME, force: true, dryRun: false }, host.env());
    expect(result.status).toBe("refused");
    expect(result.message).toBe(
      `${NVME}: refused: nvme0n1 is mounted on /; releasing would unbind nvme from under the host (--force does not change this)`,
    );
    expect(host.kernel.operations).toEqual([]);
    expect(host.kernel.boundDriver(NVME)).toBe("nvme");
  });

  it("release --force of a device on a host driver, not in use, says there is nothing to release", async () => {
    host = makeSimulatedHost();
    const result = await releaseDevice({ address: NVME, force: true, dryRun: false }, host.env());
    expect(result).toMatchObject({ status: "refused", driver: "nvme" });
    expect(result.message).toBe(`${NVME}: refused: it is on nvme, not a VFIO driver; there is nothing to release`);
    expect(host.kernel.operations).toEqual([]);
  });

  it.each(["nvme", "virtio-pci", "virtio_pci", "e1000e"])(
    "a pin must name a VFIO driver: --driver %s is refused",
    async (pin) => {
      host = makeSimulatedHost();
      const result = await bindDevice(bindRequest(VIRTIO_NET, { driver: pin }), host.env());
      expect(result.status).toBe("refused");
      expect(result.message).toMatch(
        /is not a VFIO driver \(it has no vfio_pci: alias in modules\.alias\); pin vfio_pci or one of its variants$/,
      );
      expect(host.kernel.operations).toEqual([]);
      expect(readRecord(host.stateDir, VIRTIO_NET)).toBeNull();
    },
  );

  it.each(["vfio-pci", "vfio_pci", "virtio_vfio_pci"])("a VFIO pin is accepted: --driver %s binds", async (pin) => {
    host = makeSimulatedHost();
    const result = await bindDevice(bindRequest(VIRTIO_NET, { driver: pin }), host.env());
    expect(result.status).toBe("bound");
  });
});
