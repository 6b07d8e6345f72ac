/**
 * Fail-open when the helper cannot finish, case by case: the state directory out of shape,
 * the lock not to be had, a corrupt record, the budget spent, udevd's SIGTERM while a module
 * load hangs after the helper had already put a candidate's name in the override. Each ends
 * with the hold cleared, the kernel's choice of driver, and one line saying why; an override
 * someone else set stays, whatever failed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { recordFile } from "../../src/binder/stateStore.js";
import { statePaths } from "../../src/paths.js";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { UNBOUND_VIRTIO_BLK, vfioDrivers } from "../../support/simulatedHost.js";
import { runHelper, type HelperScenario } from "../support/helperRun.js";

const DEVICE = UNBOUND_VIRTIO_BLK;
const held = (before: HelperScenario["before"], extra: Partial<HelperScenario> = {}): HelperScenario => ({
  name: "held",
  address: DEVICE,
  config: `[Claim]\nAddress=${DEVICE}\n`,
  override: HOLD_OVERRIDE,
  before,
  ...extra,
});

/** The one line, an error that says what failed and that the hold was cleared, and the kernel's driver on the device. */
async function expectClearedAfter(scenario: HelperScenario, line: string): Promise<void> {
  const result = await runHelper(scenario, { kind: "none" });
  expect(result.lines).toEqual([expect.stringMatching(new RegExp(`^error ${DEVICE}: ${line}$`))]);
  expect({ driver: result.driver, override: result.override }).toEqual({ driver: "virtio-pci", override: null });
  expect(result.exitCode).toBe(1);
}

const AFTER_THE_ERROR = "; cleared the hold after this error, now on virtio-pci";

describe("fail-open when the helper cannot finish", () => {
  it("devices/ in the state directory is a file", async () => {
    await expectClearedAfter(
      held((host) => fs.writeFileSync(statePaths(host.stateDir).devices, "")),
      `cannot (read|write) .*/devices/${DEVICE}\\.json: ENOTDIR.*${AFTER_THE_ERROR}`,
    );
  });

  it("the lock cannot be taken: locks/ is a file", async () => {
    await expectClearedAfter(
      held((host) => fs.writeFileSync(statePaths(host.stateDir).locks, "")),
      `cannot create lock directory .*/locks: EEXIST${AFTER_THE_ERROR}`,
    );
  });

  it("the device's record is corrupt", async () => {
    await expectClearedAfter(
      held((host) => {
        fs.mkdirSync(statePaths(host.stateDir).devices, { recursive: true });
        fs.writeFileSync(recordFile(host.stateDir, DEVICE), "{ not json");
      }),
      `.*\\.json: not valid JSON; .*${AFTER_THE_ERROR}`,
    );
  });

  it("the event's budget is spent before the bind could start", async () => {
    const result = await runHelper(held(undefined), { kind: "clock", startMs: 149_000, msPerOperation: 0 });
    expect(result.lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error ${DEVICE}: refused: only 1 s left of the deadline; not started; cleared the hold, now on virtio-pci \\[claim `,
        ),
      ),
    ]);
    expect(result.override).toBeNull();
  });

  it("SIGTERM while a module load hangs, after a candidate's name replaced the hold", async () => {
    const failing = { probe: { errno: "ENXIO" } } as const;
    const scenario = held(undefined, { drivers: vfioDrivers({ virtio_vfio_pci: failing }) });
    const clean = await runHelper(scenario, { kind: "none" });
    // virtio_vfio_pci is loaded, written to the override and fails its probe; then vfio_pci loads.
    const at = clean.operations.findIndex((op) => op.kind === "modprobe" && op.target === "vfio_pci");
    expect(clean.operations[at - 2]).toMatchObject({ kind: "write", value: "virtio_vfio_pci" });
    const result = await runHelper(scenario, { kind: "modprobe-hangs", at, signal: "SIGTERM" });
    expect(result.lines).toEqual([
      `error ${DEVICE}: stopped by SIGTERM before it was handled; cleared the hold, now on virtio-pci`,
    ]);
    expect({ driver: result.driver, override: result.override, exitCode: result.exitCode }).toEqual({
      driver: "virtio-pci",
      override: null,
      exitCode: 1,
    });
  });

  it("an override someone else set stays, even when the state directory is unusable", async () => {
    const result = await runHelper(
      held((host) => fs.writeFileSync(path.join(host.stateDir, "devices"), ""), {
        override: "vfio-pci",
        rules: { module: "virtio_vfio_pci", driver: "virtio_vfio_pci" },
        drivers: vfioDrivers({ vfio_pci: { loaded: true, probe: { errno: "ENXIO" } } }),
      }),
      { kind: "none" },
    );
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]).not.toMatch(/hold/);
    expect({ driver: result.driver, override: result.override }).toEqual({ driver: null, override: "vfio-pci" });
  });
});
