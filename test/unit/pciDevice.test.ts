import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RuntimeFailure } from "../../src/errors.js";
import { parseDeviceReference } from "../../src/sysfs/deviceReference.js";
import {
  listPciDeviceNames,
  parseDriverOverride,
  pciDriverOfModule,
  readPciDevice,
  readVfioView,
  resolveDevice,
} from "../../src/sysfs/pciDevice.js";
import { assertFakeSysfsRoot, FakeSysfs } from "../../support/fakeSysfs.js";

let sys: FakeSysfs;

beforeEach(() => {
  sys = FakeSysfs.create();
  sys.addDevice({ address: "0000:00:00.0", vendor: "8086", device: "29c0", classCode: "060000", iommuGroup: 0 });
  sys.addDevice({
    address: "0000:00:1c.0",
    vendor: "8086",
    device: "2918",
    classCode: "060400",
    headerType: 0x81,
    iommuGroup: 1,
  });
  sys.addDevice({
    address: "0000:3b:00.0",
    vendor: "15b3",
    device: "101d",
    parent: "0000:00:1c.0",
    driver: "mlx5_core",
    iommuGroup: 7,
    numaNode: 1,
    sriov: { totalVfs: 8, numVfs: 2 },
  });
  sys.addDevice({
    address: "0000:3b:00.1",
    vendor: "15b3",
    device: "101e",
    parent: "0000:00:1c.0",
    physfn: "0000:3b:00.0",
    iommuGroup: 8,
    driverOverride: "mlx5_vfio_pci",
  });
  sys.addDevice({
    address: "0000:3b:00.2",
    vendor: "15b3",
    device: "101e",
    parent: "0000:00:1c.0",
    physfn: "0000:3b:00.0",
    iommuGroup: 8,
    driver: "vfio-pci",
    vfioDev: true,
  });
  sys.addDevice({
    address: "0000:00:02.0",
    vendor: "1234",
    device: "1111",
    classCode: "030000",
    bootVga: true,
    driver: "bochs-drm",
  });
  sys.addDriver("vfio-pci", "vfio_pci");
});

afterEach(() => sys.remove());

describe("the fake tree guard", () => {
  it("refuses the real /sys and anything outside the temporary directory", () => {
    expect(() => assertFakeSysfsRoot("/sys")).toThrow(/refusing/);
    expect(() => assertFakeSysfsRoot("/")).toThrow(/refusing/);
    expect(() => assertFakeSysfsRoot(sys.root)).not.toThrow();
  });
});

describe("readPciDevice", () => {
  it("reads ids, class, modalias, driver, group, NUMA node and SR-IOV role of a PF", () => {
    const pf = readPciDevice(sys.root, "0000:3b:00.0");
    expect(pf).toMatchObject({
      address: "0000:3b:00.0",
      vendor: "15b3",
      device: "101d",
      subsystemVendor: "15b3",
      subsystemDevice: "101d",
      classCode: "020000",
      driver: "mlx5_core",
      driverOverride: null,
      iommuGroup: "7",
      iommuGroupPeers: [],
      headerType: 0,
      headerKind: "endpoint",
      hasVfioDev: false,
      numaNode: 1,
      bootVga: false,
      sriov: { role: "pf", numVfs: 2, totalVfs: 8, vfs: ["0000:3b:00.1", "0000:3b:00.2"] },
    });
    expect(pf.modalias.text).toBe("pci:v000015B3d0000101Dsv000015B3sd0000101Dbc02sc00i00");
    expect(pf.path).toBe(fs.realpathSync(sys.at("devices/pci0000:00/0000:00:1c.0/0000:3b:00.0")));
  });

  it("reads a VF: its PF, its override, its group peers, and vfio-dev", () => {
    expect(readPciDevice(sys.root, "0000:3b:00.1")).toMatchObject({
      sriov: { role: "vf", physfn: "0000:3b:00.0" },
      driverOverride: "mlx5_vfio_pci",
      driver: null,
      iommuGroupPeers: ["0000:3b:00.2"],
      hasVfioDev: false,
    });
    expect(readPciDevice(sys.root, "0000:3b:00.2")).toMatchObject({
      driver: "vfio-pci",
      hasVfioDev: true,
      iommuGroupPeers: ["0000:3b:00.1"],
    });
  });

  it("tells bridges from endpoints by the header type, multi-function bit masked", () => {
    expect(readPciDevice(sys.root, "0000:00:1c.0")).toMatchObject({ headerType: 1, headerKind: "bridge" });
  });

  it("reports the boot VGA device and a device without an IOMMU group", () => {
    expect(readPciDevice(sys.root, "0000:00:02.0")).toMatchObject({ bootVga: true, iommuGroup: null, numaNode: null });
  });

  it("names the file when sysfs holds something odd", () => {
    sys.writeAttribute("0000:3b:00.2", "vendor", "banana\n");
    expect(() => readPciDevice(sys.root, "0000:3b:00.2")).toThrow(RuntimeFailure);
    expect(() => readPciDevice(sys.root, "0000:3b:00.2")).toThrow(
      `${sys.at("bus/pci/devices/0000:3b:00.2/vendor")}: expected 0x followed by 4 hex digits, found "banana"`,
    );
    sys.writeAttribute("0000:3b:00.1", "modalias", "pci:nonsense\n");
    expect(() => readPciDevice(sys.root, "0000:3b:00.1")).toThrow(/modalias: not a PCI modalias: "pci:nonsense"/);
  });

  it("refuses a device that is not in the tree", () => {
    expect(() => readPciDevice(sys.root, "0000:99:00.0")).toThrow(/0000:99:00.0: no such PCI device/);
  });

  it("refuses a device link that leads outside the tree", () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-outside-"));
    fs.symlinkSync(outside, sys.at("bus/pci/devices/0000:77:00.0"));
    expect(() => readPciDevice(sys.root, "0000:77:00.0")).toThrow(/outside the sysfs tree/);
    fs.rmSync(outside, { recursive: true });
  });
});

describe("readVfioView", () => {
  it("reads what readPciDevice reads for the group and vfio-dev, and nothing else", () => {
    for (const address of ["0000:3b:00.0", "0000:3b:00.2", "0000:00:02.0"]) {
      const { iommuGroup, hasVfioDev } = readPciDevice(sys.root, address);
      expect(readVfioView(sys.root, address)).toEqual({ address, iommuGroup, hasVfioDev });
    }
    expect(readVfioView(sys.root, "0000:3b:00.2")).toEqual({
      address: "0000:3b:00.2",
      iommuGroup: "8",
      hasVfioDev: true,
    });
  });

  it("reads a device that has gone as one not on VFIO", () => {
    expect(readVfioView(sys.root, "0000:99:00.0")).toEqual({
      address: "0000:99:00.0",
      iommuGroup: null,
      hasVfioDev: false,
    });
  });
});

describe("resolveDevice", () => {
  it("accepts addresses and both kinds of sysfs path", () => {
    for (const argument of [
      "3b:00.2",
      "0000:3b:00.2",
      "/sys/bus/pci/devices/0000:3b:00.2",
      "/sys/devices/pci0000:00/0000:00:1c.0/0000:3b:00.2",
      `${sys.root}/devices/pci0000:00/0000:00:1c.0/0000:3b:00.2/`,
    ]) {
      expect(resolveDevice(sys.root, parseDeviceReference(argument, sys.root))).toBe("0000:3b:00.2");
    }
  });

  it("refuses a devices/ path that does not lead to the named device", () => {
    expect(() =>
      resolveDevice(sys.root, parseDeviceReference("/sys/devices/pci0000:00/0000:3b:00.2", sys.root)),
    ).toThrow(/no such PCI device/);
  });
});

describe("listPciDeviceNames", () => {
  it("lists every device in address order", () => {
    expect(listPciDeviceNames(sys.root)).toEqual([
      "0000:00:00.0",
      "0000:00:02.0",
      "0000:00:1c.0",
      "0000:3b:00.0",
      "0000:3b:00.1",
      "0000:3b:00.2",
    ]);
  });

  it("fails with the directory named when there is no PCI bus", () => {
    expect(() => listPciDeviceNames(path.join(sys.root, "nowhere"))).toThrow(
      /bus\/pci\/devices: cannot list PCI devices \(ENOENT\)/,
    );
  });
});

describe("pciDriverOfModule", () => {
  it("learns the driver name from /sys/module/<module>/drivers/pci:<driver>", () => {
    expect(pciDriverOfModule(sys.root, "vfio_pci")).toBe("vfio-pci");
    expect(pciDriverOfModule(sys.root, "mlx5_vfio_pci")).toBeNull();
  });
});

describe("parseDriverOverride", () => {
  it.each([
    ["(null)\n", null],
    ["\n", null],
    ["", null],
    ["vfio-pci\n", "vfio-pci"],
  ])("%j is %j", (text, value) => {
    expect(parseDriverOverride(text)).toBe(value);
  });
});
