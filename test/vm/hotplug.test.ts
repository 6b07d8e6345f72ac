import { expect, it } from "vitest";
import { fixtureVariants } from "./shared/machineLayout.js";
import type { HotplugResult } from "./guest/scenarios/hotplug.js";
import { describeVm, scenarioResult, vmReport } from "./scenarioReport.js";

describeVm("scenario (e): a device hot-plugged through QMP", () => {
  const result = scenarioResult<HotplugResult>("hotplug");

  it("QEMU accepted device_add", () => {
    const outcome = vmReport?.hotplugs.find((h) => h.requestId === "hotplug-net");
    expect(outcome?.error).toBeNull();
  });

  it("appears in the guest on virtio-pci", () => {
    expect(result.asAdded.id).toBe("1af4:1041");
    expect(result.asAdded.driver).toBe("virtio-pci");
  });

  it("bind takes it to the most specific variant", () => {
    expect(result.bind.run.exitCode).toBe(0);
    expect(result.bind.after.driver).toBe(fixtureVariants.subsys.driver);
    expect(result.bind.vfioGroupNode).toBe(true);
  });
});
