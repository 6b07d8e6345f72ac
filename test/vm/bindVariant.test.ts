import { expect, it } from "vitest";
import { fixtureVariants } from "./shared/machineLayout.js";
import type { BindVariantResult } from "./guest/scenarios/bindVariant.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

describeVm("scenario (a): bind picks the most specific variant", () => {
  const result = scenarioResult<BindVariantResult>("bind-variant");

  it("binds virtio-net to the subsystem-specific fixture, by its driver name, not its module name", () => {
    const { bind } = result.net;
    expect(bind.before.driver).toBe("virtio-pci");
    expect(bind.run.exitCode).toBe(0);
    expect(bind.run.json).toMatchObject({
      status: "bound",
      module: fixtureVariants.subsys.module,
      driver: fixtureVariants.subsys.driver,
    });
    expect(bind.after.driver).toBe(fixtureVariants.subsys.driver);
    expect(bind.after.driver).not.toBe(fixtureVariants.subsys.module);
    expect(bind.after.vfioDev).toBe(true);
    expect(result.subsysModuleDrivers).toEqual([`pci:${fixtureVariants.subsys.driver}`]);
  });

  it("makes the device's VFIO group node appear", () => {
    expect(result.net.bind.after.iommuGroup).not.toBeNull();
    expect(result.net.bind.vfioGroupNode).toBe(true);
  });

  it("binds virtio-blk, which only the device-wide fixture matches, to that one", () => {
    const { bind } = result.blk;
    expect(bind.run.exitCode).toBe(0);
    expect(bind.after.driver).toBe(fixtureVariants.generic.driver);
    expect(bind.vfioGroupNode).toBe(true);
  });

  it("release gives both back to virtio-pci with no override left", () => {
    for (const { release } of [result.net, result.blk]) {
      expect(release.run.exitCode).toBe(0);
      expect(release.after.driver).toBe("virtio-pci");
      expect(release.after.override).toBeNull();
    }
  });
});
