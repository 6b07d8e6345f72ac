/** The bridge rule of the safety verdict: class 06xx is refused whatever its header type. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bridgeRefusal, isBridgeClass } from "../../src/policy/safetyVerdict.js";
import type { HeaderKind } from "../../src/sysfs/pciDevice.js";

const hex = (digits: number) =>
  fc.integer({ min: 0, max: 16 ** digits - 1 }).map((n) => n.toString(16).padStart(digits, "0"));
const headerKind = fc.constantFrom<HeaderKind>("endpoint", "bridge", "cardbus", "unknown");

describe("bridgeRefusal", () => {
  it("refuses the host bridge, whose header says endpoint", () => {
    expect(bridgeRefusal({ classCode: "060000", headerKind: "endpoint" })).toBe(
      "it is a bridge (class 0600); only endpoint devices can go to VFIO",
    );
    expect(bridgeRefusal({ classCode: "060400", headerKind: "bridge" })).toBe(
      "it is a PCI bridge; only endpoint devices can go to VFIO",
    );
    expect(bridgeRefusal({ classCode: "020000", headerKind: "endpoint" })).toBeNull();
  });

  it("refuses every class 06xx whatever the header type (1,000 cases)", () => {
    fc.assert(
      fc.property(hex(4), headerKind, (rest, kind) => {
        expect(isBridgeClass(`06${rest}`)).toBe(true);
        expect(bridgeRefusal({ classCode: `06${rest}`, headerKind: kind })).not.toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it("leaves every other class with an endpoint header alone (1,000 cases)", () => {
    fc.assert(
      fc.property(
        hex(6).filter((c) => !c.startsWith("06")),
        (classCode) => {
          expect(bridgeRefusal({ classCode, headerKind: "endpoint" })).toBeNull();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
