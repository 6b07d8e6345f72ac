import { expect, it } from "vitest";
import { genericVfio, sriovController } from "./shared/machineLayout.js";
import type { SriovVfsResult } from "./guest/scenarios/sriovVfs.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

describeVm("scenario (d): SR-IOV VFs of QEMU's NVMe controller", () => {
  const result = scenarioResult<SriovVfsResult>("sriov-vfs");

  it("creates the VFs unbound (sriov_drivers_autoprobe 0)", () => {
    expect(result.vfsAsCreated).toHaveLength(sriovController.maxVfs);
    for (const vf of result.vfsAsCreated) {
      expect(vf.id).toBe("1b36:0010");
      expect(vf.driver).toBeNull();
    }
  });

  it("binds every VF to vfio-pci", () => {
    expect(result.vfBinds).toHaveLength(sriovController.maxVfs);
    for (const step of result.vfBinds) {
      expect(step.run.exitCode).toBe(0);
      expect(step.after.driver).toBe(genericVfio.driver);
      expect(step.vfioGroupNode).toBe(true);
    }
  });

  it("refuses the PF while it has VFs enabled, and leaves it on nvme", () => {
    expect(result.pfBind.run.exitCode).toBe(1);
    expect(result.pfBind.run.json).toMatchObject({ status: "refused" });
    expect(result.pfBind.after.driver).toBe("nvme");
    expect(result.pf.driver).toBe("nvme");
  });
});
