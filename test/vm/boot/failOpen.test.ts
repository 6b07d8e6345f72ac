/**
 * (e) fail-open: every candidate of a held device fails (`fail_probe=1` for both fixture
 * variants on the kernel command line; netPinned is pinned to the subsystem variant). It
 * ends on its host driver with one journal line saying why. Then `release` of a held
 * device clears the hold.
 */
import { expect, it } from "vitest";
import { HOLD_OVERRIDE } from "../../../src/policy/hold.js";
import { devices } from "./shared/bootMachine.js";
import { toolLines } from "./shared/bootProtocol.js";
import { bootResult, describeBoot, hostDriverBuiltIn } from "./bootReport.js";

describeBoot("boot fail-open (every fixture probe fails)", () => {
  const boot = bootResult("fail-open");
  const address = devices.netPinned.address;

  it("the pinned device ends on its host driver, no override left", () => {
    const device = boot().observation?.devices.find((d) => d.address === address);
    expect(device?.driver).toBe(devices.netPinned.hostDriver);
    expect(device?.override).toBeNull();
    // Up to the moment the runner looked (before its release), the host driver's binds are
    // the fail-open one, after the boot's own where the driver is built in (no hold then).
    const settledAt = boot().observation?.settledAt ?? 0;
    const hostBinds = boot().kernelBinds.filter(
      (b) => b.address === address && b.driver === "virtio-pci" && (b.time ?? Infinity) <= settledAt,
    );
    expect(hostBinds).toHaveLength(hostDriverBuiltIn(devices.netPinned) ? 2 : 1);
  });

  it("one journal line about the device says why", () => {
    // The tool's own lines (the hold script's kernel-log line about the hold is not one).
    const lines = toolLines(boot().observation?.toolJournal ?? []).filter((l) => l.includes(address));
    expect(lines, lines.join("\n")).toHaveLength(1);
    expect(lines[0]).toMatch(/fail|probe/i);
  });

  it("release of a held device clears the hold and lets the host driver have it", () => {
    const release = boot().observation?.actions[0];
    expect(release?.argv).toEqual(["vfio-autobind", "release", address]);
    expect(release?.exitCode).toBe(0);
    const after = boot().observation?.devicesAfter.find((d) => d.address === address);
    expect(after?.override).not.toBe(HOLD_OVERRIDE);
    expect(after?.override).toBeNull();
    expect(after?.driver).toBe(devices.netPinned.hostDriver);
  });
});
