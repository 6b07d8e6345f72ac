/**
 * One answer to "who may be held": the generated udev rules (through the rule evaluator),
 * the hold script (under dash) and the TypeScript table give the same verdict on generated
 * devices: the boot display, no IOMMU group, bridges, a PF with VFs, a driven device and a
 * foreign override. Every device is claimed, so only eligibility decides.
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
import { holdRefusal } from "../../src/policy/holdEligibility.js";
import { generateClaimRules } from "../../src/udev/claimRules.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { evaluateRuleTexts } from "../../support/udevRuleEvaluator.js";

const ADDRESS = "0000:00:03.0";

const deviceArb = fc.record({
  driver: fc.constantFrom(undefined, undefined, "virtio-pci"),
  override: fc.constantFrom("(null)", "(null)", HOLD_OVERRIDE, "vfio-pci", "pci-stub"),
  iommuGroup: fc.constantFrom(7, 7, undefined),
  classCode: fc.constantFrom("020000", "030000", "060400", "010802"),
  bootVga: fc.constantFrom(undefined, false, true),
  numVfs: fc.constantFrom(undefined, 0, 2),
});

describe("who may be held", () => {
  it("the rules, the hold script and the table agree on 200 generated devices", () => {
    const config = parseClaimFile(`[Claim]\nAddress=${ADDRESS}\n`, "/etc/vfio-autobind/50-all.conf");
    expect(config.errors).toEqual([]);
    const rules = generateClaimRules(config, "feed", "/etc/vfio-autobind", () => null);
    const script = generateHoldScript(config, "feed");
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-eligible-"));
    const seen = new Set<string>();
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
              classCode: d.classCode,
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
              classCode: d.classCode,
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
            fs.writeFileSync(path.join(work, "kmsg"), "");
            const run = spawnSync(
              "dash",
              [path.join(work, "hold.sh"), tree.root, path.join(work, "cmdline"), path.join(work, "kmsg")],
              {
                encoding: "utf8",
              },
            );
            expect(run.status).toBe(0);
            const byScript = fs.readFileSync(path.join(work, "kmsg"), "utf8").includes(`holding ${ADDRESS}`);
            // A device held already is not held again by either: compare whether each would hold it.
            const heldBefore = d.override === HOLD_OVERRIDE && d.driver === undefined;
            expect({
              byRules: byRules || (heldBefore && byTable),
              byScript: byScript || (heldBefore && byTable),
            }).toEqual({
              byRules: byTable,
              byScript: byTable,
            });
            seen.add(refusal ?? "held");
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
  }, 120_000);
});
