import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import {
  DEFAULT_PATHS,
  environmentFrom,
  environmentUnder,
  lockFile,
  statePaths,
  sysfsPaths,
  UnsafeNameError,
} from "../../src/paths.js";

describe("paths derived from a root", () => {
  const sys = sysfsPaths("/tmp/root/sys");
  const state = statePaths("/tmp/root/run");

  it("builds every sysfs and state path under its root", () => {
    expect(sys.driverOverride("0000:3b:00.2")).toBe("/tmp/root/sys/bus/pci/devices/0000:3b:00.2/driver_override");
    expect(sys.unbind("vfio-pci")).toBe("/tmp/root/sys/bus/pci/drivers/vfio-pci/unbind");
    expect(sys.moduleDrivers("mlx5_vfio_pci")).toBe("/tmp/root/sys/module/mlx5_vfio_pci/drivers");
    expect(state.record("0000:3b:00.2")).toBe("/tmp/root/run/devices/0000:3b:00.2.json");
    expect(lockFile(state.locks, "group-12")).toBe("/tmp/root/run/locks/group-12.lock");
    expect(state.autoprobeRecord("0000:3b:00.0")).toBe("/tmp/root/run/sriov/0000:3b:00.0.autoprobe");
  });

  it.each([
    ["driver", () => sys.bind("../../../etc")],
    ["driver", () => sys.unbind("..")],
    ["driver", () => sys.bind("a/b")],
    ["module", () => sys.moduleDrivers("../x")],
    ["PCI address", () => sys.driverOverride("0000:3b:00.2/../../x")],
    ["PCI address", () => state.record("../passwd")],
    ["PCI address", () => state.autoprobeRecord(".")],
    ["IOMMU group", () => sys.iommuGroupDevices("1/../..")],
    ["lock key", () => lockFile(state.locks, "../k")],
  ])("refuses a %s name that could leave its root", (_kind, build) => {
    expect(build).toThrow(UnsafeNameError);
  });

  it("keeps the host defaults where the packages install them", () => {
    expect(DEFAULT_PATHS).toMatchObject({
      sysfsRoot: "/sys",
      stateDir: "/run/vfio-autobind",
      configDir: "/etc/vfio-autobind",
      rulesFile: "/etc/udev/rules.d/69-vfio-autobind-claims.rules",
    });
  });
});

describe("one environment from the system's /", () => {
  it("takes every path under --root, and each path's own option over it", () => {
    const under = environmentFrom({ root: "/tmp/image" });
    for (const [key, value] of Object.entries(under)) expect(value.startsWith("/tmp/image"), key).toBe(true);
    expect(under).toMatchObject({
      sysfsRoot: "/tmp/image/sys",
      stateDir: "/tmp/image/run/vfio-autobind",
      rulesFile: "/tmp/image/etc/udev/rules.d/69-vfio-autobind-claims.rules",
      kmsg: "/tmp/image/dev/kmsg",
      modprobeRoot: "/tmp/image",
    });
    const moved = environmentFrom({ root: "/tmp/image", "sysfs-root": "/tmp/fake-sys", "state-dir": "/tmp/state" });
    expect(moved).toEqual({ ...under, sysfsRoot: "/tmp/fake-sys", stateDir: "/tmp/state" });
  });

  it("is the host's own without --root, and a relative root is taken from the working directory", () => {
    const { getent: _getent, ...host } = DEFAULT_PATHS;
    expect(environmentFrom({})).toEqual(host);
    expect(environmentUnder("/")).toEqual(host);
    expect(environmentFrom({ root: "image" }).configDir).toBe(`${process.cwd()}/image/etc/vfio-autobind`);
  });

  it("refuses an empty root with the option's name", () => {
    expect(() => environmentFrom({ root: "" })).toThrow(UsageError);
    expect(() => environmentFrom({ root: "" })).toThrow(/^--root: an empty path/);
  });
});
