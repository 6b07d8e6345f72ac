/**
 * One answer to "who may be held" and "who may be bound": the generated udev rules (through
 * the rule evaluator), the hold script (under dash and busybox sh) and the TypeScript table
 * give the same hold verdict on generated devices, and the bind side (a claim's bind, read
 * through the sysfs adapter) refuses exactly the devices the hold leaves alone: the boot
 * display, no IOMMU group, bridges, a PF with VFs and a foreign override. Every device is
 * claimed, so only eligibility decides.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClaimFile } from "../../src/config/claimConfig.js";
import { generateHoldScript } from "../../src/hold/holdScript.js";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { holdRefusal } from "../../src/policy/eligibility.js";
import { foreignOverrideRefusal, safetyVerdict } from "../../src/policy/safetyVerdict.js";
import { headerKindOf, readPciDevice, type PciDevice } from "../../src/sysfs/pciDevice.js";
import { generateClaimRules } from "../../src/rules/claimRules.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { evaluateRuleTexts } from "../../support/udevRuleEvaluator.js";
import { initramfsShells } from "../support/initramfsShells.js";

const SHELLS = initramfsShells();
const ADDRESS = "0000:00:03.0";

const deviceArb = fc.record({
  driver: fc.constantFrom(undefined, undefined, "virtio-pci"),
  override: fc.constantFrom("(null)", "(null)", HOLD_OVERRIDE, "vfio-pci", "pci-stub"),
  iommuGroup: fc.constantFrom(7, 7, undefined),
  // Class and header type as real devices pair them (a host bridge has an endpoint header),
  // and a header type no device has, which only bind can see.
  classHeader: fc.constantFrom<[string, number]>(
    ["020000", 0],
    ["030000", 0],
    ["010802", 0],
    ["060400", 1],
    ["060700", 2],
    ["060000", 0],
    ["030000", 0x7f],
  ),
  bootVga: fc.constantFrom(undefined, false, true),
  numVfs: fc.constantFrom(undefined, 0, 2),
});

/**
 * Whether a claim without Force=yes would bind the device: refused, or only with --force,
 * counts as not. The override is judged with what the hold knows: only the hold is ours (a
 * loaded VFIO driver's name, which a claim may replace, is no fact udev or sh can see).
 */
function claimWouldBind(sysfsRoot: string): boolean {
  const device = readPciDevice(sysfsRoot, ADDRESS);
  return safetyVerdict(device, [], false).ok && foreignOverrideRefusal(device, null, () => new Set()) === null;
}

describe("who may be held, and who may be bound", () => {
  it("the rules, the hold script, the table and the bind side agree on 200 generated devices", () => {
    const config = parseClaimFile(`[Claim]\nAddress=${ADDRESS}\n`, "/etc/vfio-autobind/50-all.conf");
    expect(config.errors).toEqual([]);
    const rules = generateClaimRules(config, "feed", "/etc/vfio-autobind", () => null);
    const script = generateHoldScript(config, "feed");
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-eligible-"));
    const seen = new Set<string>();
    const seenBind = new Set<boolean>();
    try {
      fs.writeFileSync(path.join(work, "hold.sh"), script);
      fs.writeFileSync(path.join(work, "cmdline"), "root=/dev/vda1\n");
      fc.assert(
        fc.property(deviceArb, (d) => {
          const tree = FakeSysfs.create();
          try {
            const dir = tree.addDevice({
              address: ADDRESS,
              vendor: "1af4",
              device: "1041",
              classCode: d.classHeader[0],
              headerType: d.classHeader[1],
              driverOverride: d.override,
              ...(d.driver !== undefined ? { driver: d.driver } : {}),
              ...(d.iommuGroup !== undefined ? { iommuGroup: d.iommuGroup } : {}),
              ...(d.bootVga !== undefined ? { bootVga: d.bootVga } : {}),
              ...(d.numVfs !== undefined ? { sriov: { totalVfs: 4, numVfs: d.numVfs } } : {}),
            });
            const refusal = holdRefusal({
              driver: d.driver ?? null,
              driverOverride: d.override === "(null)" ? null : d.override,
              iommuGroup: d.iommuGroup === undefined ? null : String(d.iommuGroup),
              classCode: d.classHeader[0],
              headerKind: null,
              bootVga: d.bootVga === true,
              numVfs: d.numVfs ?? 0,
            });
            const byTable = refusal === null;
            const udev = evaluateRuleTexts(
              [{ name: "69-vfio-autobind-claims.rules", text: rules }],
              { kernel: ADDRESS, subsystem: "pci", dir },
              "add",
              { sysfsRoot: tree.root },
            );
            const byRules = udev.attrWrites.some((w) => w.attr === "driver_override" && w.value === HOLD_OVERRIDE);
            // Each shell on a copy of the device's override, as each would find it at boot.
            const override = path.join(dir, "driver_override");
            const before = fs.readFileSync(override);
            const byShell = SHELLS.map(({ name, argv }) => {
              fs.writeFileSync(override, before);
              fs.writeFileSync(path.join(work, "kmsg"), "");
              const script = [
                path.join(work, "hold.sh"),
                tree.root,
                path.join(work, "cmdline"),
                path.join(work, "kmsg"),
              ];
              const run = spawnSync(argv[0] as string, [...argv.slice(1), ...script], { encoding: "utf8" });
              expect(run.status, name).toBe(0);
              return fs.readFileSync(path.join(work, "kmsg"), "utf8").includes(`holding ${ADDRESS}`);
            });
            expect(new Set(byShell).size, "dash and busybox sh agree").toBe(1);
            const byScript = byShell[0] as boolean;
            // A device held already is not held again by either: compare whether each would hold it.
            const heldBefore = d.override === HOLD_OVERRIDE && d.driver === undefined;
            expect({
              byRules: byRules || (heldBefore && byTable),
              byScript: byScript || (heldBefore && byTable),
            }).toEqual({
              byRules: byTable,
              byScript: byTable,
            });
            // Bind: a device on a driver is what bind takes from the host, so the hold-only row
            // exempts it; a header no device has is a bind-only row, so only one way holds.
            const bound = claimWouldBind(tree.root);
            if (d.driver === undefined) {
              if (headerKindOf(d.classHeader[1]) === "unknown") {
                if (!byTable) expect(bound).toBe(false);
              } else {
                expect({ bound }).toEqual({ bound: byTable });
              }
            }
            seen.add(refusal ?? "held");
            seenBind.add(bound);
          } finally {
            tree.remove();
          }
        }),
        { numRuns: 200 },
      );
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    // Every row of the table, and a held device, came up at least once.
    expect(seen.size).toBeGreaterThanOrEqual(6);
    expect(seenBind).toEqual(new Set([true, false]));
  }, 120_000);
});

describe("who may go past each bind-side row", () => {
  // A driven virtio NIC with an IOMMU group, as the sysfs adapter reads it; each case changes one fact.
  const endpoint = ((): PciDevice => {
    const tree = FakeSysfs.create();
    try {
      tree.addDevice({ address: ADDRESS, vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 7 });
      return readPciDevice(tree.root, ADDRESS);
    } finally {
      tree.remove();
    }
  })();
  const noVfioDrivers = () => new Set<string>();

  it("the boot display: bind with --force only", () => {
    const display = { ...endpoint, classCode: "030000", bootVga: true };
    expect(safetyVerdict(display, [], false)).toMatchObject({ ok: false, forceable: true });
    expect(safetyVerdict(display, [], true)).toEqual({ ok: true, overridden: ["it is the boot display (boot_vga)"] });
  });

  it("a bridge, no IOMMU group, a PF with VFs: nobody, --force or not", () => {
    const pf = { ...endpoint, sriov: { role: "pf", numVfs: 2, totalVfs: 4, vfs: [] } } as const;
    for (const device of [{ ...endpoint, classCode: "060400" }, { ...endpoint, iommuGroup: null }, pf]) {
      expect(safetyVerdict(device, [], true)).toMatchObject({ ok: false, forceable: false });
    }
  });

  it("a foreign driver_override: a bind by hand only, never a claim", () => {
    const stub = { ...endpoint, driverOverride: "pci-stub" };
    expect(safetyVerdict(stub, [], false)).toEqual({ ok: true, overridden: [] });
    expect(foreignOverrideRefusal(stub, null, noVfioDrivers)).toMatch(
      /^its driver_override is "pci-stub", set outside/,
    );
    // Not foreign: the hold, the driver the rules wrote for the event, a loaded VFIO driver.
    expect(foreignOverrideRefusal({ ...endpoint, driverOverride: HOLD_OVERRIDE }, null, noVfioDrivers)).toBeNull();
    expect(foreignOverrideRefusal(stub, "pci-stub", noVfioDrivers)).toBeNull();
    expect(
      foreignOverrideRefusal({ ...endpoint, driverOverride: "vfio-pci" }, null, () => new Set(["vfio-pci"])),
    ).toBeNull();
  });
});
