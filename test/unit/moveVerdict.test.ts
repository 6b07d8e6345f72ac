import { describe, expect, it } from "vitest";
import { keptAfterFallback, moveVerdict, type MoveFacts } from "../../src/policy/moveVerdict.js";

const BOUND_AT = "2026-12-05T12:00:00.000Z";
const facts = (extra: Partial<MoveFacts> = {}): MoveFacts => ({
  device: { driver: "vfio-pci", hasVfioDev: true },
  currentModule: "vfio_pci",
  claim: { driver: "auto", move: "auto", origin: { file: "50-x.conf", line: 1 } },
  best: "mlx5_vfio_pci",
  currentRanked: true,
  bestInstalledAt: new Date("2026-12-05T12:03:00Z"),
  record: { status: "bound", driver: "vfio-pci", time: BOUND_AT },
  holders: [],
  automatic: true,
  ...extra,
});
const qemu = { pid: 4711, command: "qemu-system-x86", node: "/dev/vfio/42" };

describe("moveVerdict", () => {
  it("moves a device to a better driver installed after its bind", () => {
    expect(moveVerdict(facts())).toEqual({
      kind: "move",
      to: "mlx5_vfio_pci",
      installedAt: new Date("2026-12-05T12:03:00Z"),
    });
  });

  it("never moves a pinned device, one not on VFIO, or one already on its best", () => {
    expect(moveVerdict(facts({ claim: { ...facts().claim, driver: "vfio-pci" } })).kind).toBe("stay");
    expect(moveVerdict(facts({ device: { driver: "mlx5_core", hasVfioDev: false } })).kind).toBe("stay");
    expect(moveVerdict(facts({ currentModule: "mlx5_vfio_pci" })).kind).toBe("stay");
    expect(moveVerdict(facts({ best: null })).kind).toBe("stay");
    // Its own driver's module was removed: it stays on the loaded driver; the next boot decides.
    expect(moveVerdict(facts({ currentRanked: false, record: null })).kind).toBe("stay");
  });

  it("keeps a device where it fell back when the better driver was there at its bind", () => {
    expect(moveVerdict(facts({ bestInstalledAt: new Date("2026-12-05T11:00:00Z") })).kind).toBe("stay");
    expect(moveVerdict(facts({ bestInstalledAt: null })).kind).toBe("stay");
    // Not ours, or bound elsewhere since: judged on the ranking alone.
    expect(moveVerdict(facts({ record: null, bestInstalledAt: null })).kind).toBe("move");
    expect(keptAfterFallback({ status: "binding", driver: null, time: BOUND_AT }, "vfio-pci", null)).toBe(false);
  });

  it("waits for a holder whoever runs it, and for an admin when the claim says Move=apply", () => {
    expect(moveVerdict(facts({ holders: [qemu] }))).toMatchObject({ kind: "held", holders: [qemu] });
    expect(moveVerdict(facts({ holders: [qemu], automatic: false })).kind).toBe("held");
    const onApply = { claim: { ...facts().claim, move: "apply" as const } };
    expect(moveVerdict(facts(onApply)).kind).toBe("on-apply");
    expect(moveVerdict(facts({ ...onApply, automatic: false })).kind).toBe("move");
  });
});
