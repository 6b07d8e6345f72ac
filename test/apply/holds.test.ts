/**
 * Holds, from the helper's side: a device held for us (the rules' or the boot script's
 * `vfio-autobind-hold`), or bound by the rules' compiled decision before the helper ran.
 * The helper replaces a hold, records that the device was held, never undoes a correct
 * bind, corrects a stale decision, and lets go of a hold (fail-open) whenever no VFIO
 * driver takes the device. release, apply and unclaim clear the holds they own.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyClaims } from "../../src/apply/applyClaims.js";
import { releaseDevice } from "../../src/binder/releaseDevice.js";
import { readRecord } from "../../src/binder/stateStore.js";
import { readClaimConfig } from "../../src/config/readClaimConfig.js";
import { sysfsPaths } from "../../src/paths.js";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { decideAddEvent } from "../../src/helper/decideAddEvent.js";
import { capturingLog } from "../../support/capturingLog.js";
import { RULE_ENV } from "../../src/rules/ruleEnv.js";
import { makeSimulatedHost, UNBOUND_VIRTIO_BLK, vfioDrivers, type SimulatedHost } from "../../support/simulatedHost.js";

const DEVICE = UNBOUND_VIRTIO_BLK;
let host: SimulatedHost;
let configDir: string;
let rulesFile: string;

function setUp(options: Parameters<typeof makeSimulatedHost>[0] = {}): void {
  host = makeSimulatedHost(options);
  // A device that would go to virtio-pci without us, the way every virtio device does.
  fs.mkdirSync(configDir, { recursive: true });
}
beforeEach(() => {
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-config-"));
  rulesFile = path.join(configDir, "rules", "69-vfio-autobind-claims.rules");
});
afterEach(() => {
  host.cleanup();
  fs.rmSync(configDir, { recursive: true, force: true });
});

function claim(text = `[Claim]\nAddress=${DEVICE}\n`): void {
  fs.writeFileSync(path.join(configDir, "50-claim.conf"), text);
}

const event = (rules?: { module: string; driver: string }): NodeJS.ProcessEnv => ({
  ACTION: "add",
  SUBSYSTEM: "pci",
  PCI_SLOT_NAME: DEVICE,
  [RULE_ENV.claim]: "50-claim.conf:1",
  ...(rules === undefined ? {} : { [RULE_ENV.module]: rules.module, [RULE_ENV.driver]: rules.driver }),
});

function writeOverride(value: string): void {
  host.kernel.writeAttribute(sysfsPaths(host.tree.root).driverOverride(DEVICE), value);
}

/** What the compiled rule does: the hold, `kmod load`, then the final override and a probe. */
async function rulesBind(module: string, driver: string): Promise<void> {
  writeOverride(HOLD_OVERRIDE);
  await host.kernel.loadModule(module, 1000);
  writeOverride(driver);
  host.kernel.writeAttribute(sysfsPaths(host.tree.root).driversProbe, DEVICE);
}

describe("a held device", () => {
  it("is bound by the helper, recorded as held, and released to the kernel's choice", async () => {
    setUp();
    claim();
    writeOverride(HOLD_OVERRIDE);
    host.kernel.writeAttribute(sysfsPaths(host.tree.root).driversProbe, DEVICE);
    expect(host.kernel.boundDriver(DEVICE)).toBeNull(); // the hold refuses virtio-pci
    const log = capturingLog();
    expect(await decideAddEvent(event(), { configDir, env: host.env(), log })).toBe(0);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(
      /^info 0000:00:05\.0: bound to virtio_vfio_pci \(module virtio_vfio_pci, rank 1 of 2\)/,
    );
    expect(log.lines[0]).not.toContain("taken from");
    expect(readRecord(host.stateDir, DEVICE)).toMatchObject({ status: "bound", originalDriver: null, held: true });

    const released = await releaseDevice({ address: DEVICE, force: false, dryRun: false }, host.env());
    expect(released.message).toBe(
      `${DEVICE}: released; the kernel gave it to virtio-pci (it was held for vfio-autobind from its add event)`,
    );
    expect(host.kernel.boundDriver(DEVICE)).toBe("virtio-pci");
    expect(host.kernel.driverOverride(DEVICE)).toBeNull();
  });

  it("fails open: when every candidate fails it goes to its host driver, with one line saying why", async () => {
    const failing = { probe: { errno: "ENXIO" } } as const;
    setUp({ drivers: vfioDrivers({ vfio_pci: failing, virtio_vfio_pci: failing }) });
    claim();
    writeOverride(HOLD_OVERRIDE);
    const log = capturingLog();
    expect(await decideAddEvent(event(), { configDir, env: host.env(), log })).toBe(1);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(
      /^error 0000:00:05\.0: not bound: virtio_vfio_pci: .*; vfio_pci: .*; cleared the hold; the kernel gave it to virtio-pci/,
    );
    expect(host.kernel.boundDriver(DEVICE)).toBe("virtio-pci");
    expect(host.kernel.driverOverride(DEVICE)).toBeNull();
    expect(readRecord(host.stateDir, DEVICE)).toBeNull();
  });

  it("fails open on a refusal too: a held device no claim selects goes to the kernel", async () => {
    setUp();
    claim(`[Claim]\nAddress=0000:00:09.0\n`); // the rules marked more than the claims select
    writeOverride(HOLD_OVERRIDE);
    const log = capturingLog();
    expect(await decideAddEvent(event(), { configDir, env: host.env(), log })).toBe(0);
    expect(log.lines).toEqual([
      `info ${DEVICE}: no claim selects it; left on no driver; cleared the hold, now on virtio-pci`,
    ]);
    expect(host.kernel.boundDriver(DEVICE)).toBe("virtio-pci");
  });

  it("release clears a hold nobody replaced; apply does the same for a device no claim selects", async () => {
    setUp();
    writeOverride(HOLD_OVERRIDE);
    const released = await releaseDevice({ address: DEVICE, force: false, dryRun: false }, host.env());
    expect(released.message).toBe(`${DEVICE}: hold cleared, released to the kernel; now on virtio-pci`);
    expect(host.kernel.driverOverride(DEVICE)).toBeNull();

    host.kernel.writeAttribute(sysfsPaths(host.tree.root).unbind("virtio-pci"), DEVICE);
    writeOverride(HOLD_OVERRIDE);
    claim(`[Claim]\nAddress=0000:00:09.0\n`);
    const report = await applyClaims({
      config: readClaimConfig(configDir),
      configDir,
      rulesFile,
      env: host.env(),
      dryRun: false,
      reloadUdev: () => Promise.resolve(null),
    });
    expect(report.lines).toContain(
      `${DEVICE}: hold cleared, released to the kernel; now on virtio-pci (no longer claimed)`,
    );
    expect(host.kernel.boundDriver(DEVICE)).toBe("virtio-pci");
  });
});

describe("an override set by someone else", () => {
  it("is never overwritten by a claim, and nothing of it is cleared", async () => {
    setUp();
    claim();
    writeOverride("pci-stub");
    const log = capturingLog();
    expect(await decideAddEvent(event(), { configDir, env: host.env(), log })).toBe(1);
    expect(log.lines).toEqual([
      `error ${DEVICE}: refused: its driver_override is "pci-stub", set outside vfio-autobind; it is never overwritten: clear it (echo > driver_override) and run "vfio-autobind apply" [claim ${path.join(configDir, "50-claim.conf")}:1]`,
    ]);
    expect(host.kernel.driverOverride(DEVICE)).toBe("pci-stub");
    expect(host.kernel.operations.filter((o) => o.kind === "write")).toHaveLength(1); // the test's own write
  });
});

describe("a device the rules already bound", () => {
  it("is recorded and logged, never rebound", async () => {
    setUp();
    claim();
    await rulesBind("virtio_vfio_pci", "virtio_vfio_pci");
    expect(host.kernel.boundDriver(DEVICE)).toBe("virtio_vfio_pci");
    const before = host.kernel.operations.length;
    const log = capturingLog();
    const code = await decideAddEvent(event({ module: "virtio_vfio_pci", driver: "virtio_vfio_pci" }), {
      configDir,
      env: host.env(),
      log,
    });
    expect(code).toBe(0);
    expect(log.lines[0]).toMatch(
      /^info 0000:00:05\.0: bound to virtio_vfio_pci by the udev rules \(module virtio_vfio_pci, rank 1 of 2\)/,
    );
    expect(host.kernel.operations.slice(before)).toEqual([]); // not a single write
    expect(readRecord(host.stateDir, DEVICE)).toMatchObject({ status: "bound", held: true, driver: "virtio_vfio_pci" });
  });

  it("is moved when the compiled decision is stale, and the line says the rules need apply", async () => {
    setUp();
    claim();
    await rulesBind("vfio_pci", "vfio-pci"); // compiled before virtio_vfio_pci was installed
    expect(host.kernel.boundDriver(DEVICE)).toBe("vfio-pci");
    const log = capturingLog();
    await decideAddEvent(event({ module: "vfio_pci", driver: "vfio-pci" }), { configDir, env: host.env(), log });
    expect(host.kernel.boundDriver(DEVICE)).toBe("virtio_vfio_pci");
    expect(log.lines[0]).toContain(
      `the udev rules chose vfio_pci, the best is now virtio_vfio_pci: run "vfio-autobind apply"`,
    );
    expect(log.lines[0]).not.toContain("taken from");
    // It was held from its add event: release lets the kernel choose.
    expect(readRecord(host.stateDir, DEVICE)?.held).toBe(true);
  });

  it("a rules override whose driver failed to probe falls back, then fails open", async () => {
    const failing = { probe: { errno: "ENXIO" } } as const;
    setUp({ drivers: vfioDrivers({ virtio_vfio_pci: failing }) });
    claim();
    await rulesBind("virtio_vfio_pci", "virtio_vfio_pci");
    expect(host.kernel.boundDriver(DEVICE)).toBeNull();
    const log = capturingLog();
    await decideAddEvent(event({ module: "virtio_vfio_pci", driver: "virtio_vfio_pci" }), {
      configDir,
      env: host.env(),
      log,
    });
    expect(host.kernel.boundDriver(DEVICE)).toBe("vfio-pci");
    expect(log.lines[0]).toMatch(/bound to vfio-pci \(module vfio_pci, rank 2 of 2\) after virtio_vfio_pci: /);
  });
});
