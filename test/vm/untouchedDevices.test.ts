import { expect, it } from "vitest";
import { bootDevices } from "./shared/machineLayout.js";
import { describeVm, vmReport } from "./scenarioReport.js";

describeVm("devices no scenario touches", () => {
  it("keep their host driver and no override from boot to the end", () => {
    for (const label of ["boot", "final"]) {
      const device = vmReport?.snapshots[label]?.devices.find((d) => d.address === bootDevices.netUntouched.address);
      expect(device, label).toMatchObject({ driver: "virtio-pci", override: null });
    }
  });
});
