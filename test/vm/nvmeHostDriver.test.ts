import { expect, it } from "vitest";
import { genericVfio } from "./shared/machineLayout.js";
import type { NvmeHostDriverResult } from "./guest/scenarios/nvmeHostDriver.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

describeVm("scenarios (b) and 6: NVMe, bound to its built-in driver before anything runs", () => {
  const result = scenarioResult<NvmeHostDriverResult>("nvme-host-driver");

  it("bind unbinds nvme and binds generic vfio-pci", () => {
    expect(result.bind.before.driver).toBe("nvme");
    expect(result.bind.run.exitCode).toBe(0);
    expect(result.bind.run.json).toMatchObject({
      status: "bound",
      module: genericVfio.module,
      driver: genericVfio.driver,
    });
    expect(result.bind.after.driver).toBe(genericVfio.driver);
    expect(result.bind.vfioGroupNode).toBe(true);
    expect(result.recordAfterBind).toBe(true);
  });

  it("release returns it to nvme and removes the record", () => {
    expect(result.release.run.exitCode).toBe(0);
    expect(result.release.after.driver).toBe("nvme");
    expect(result.release.after.override).toBeNull();
    expect(result.recordAfterRelease).toBe(false);
    expect(result.nvmeControllerAfterRelease).toBe(true);
  });
});
