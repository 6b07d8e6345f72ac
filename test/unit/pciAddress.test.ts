import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseDeviceReference } from "../../src/sysfs/deviceReference.js";
import { comparePciNames, formatPciAddress, parsePciAddress } from "../../src/sysfs/pciAddress.js";

describe("parsePciAddress", () => {
  it.each([
    ["0000:3b:00.2", "0000:3b:00.2"],
    ["3b:00.2", "0000:3b:00.2"],
    ["0000:3B:00.2", "0000:3b:00.2"],
    ["10000:01:00.0", "10000:01:00.0"], // Intel VMD domain
    ["0001:00:1f.7", "0001:00:1f.7"],
  ])("%s is %s", (text, canonical) => {
    const parsed = parsePciAddress(text);
    expect(parsed).not.toBeNull();
    expect(formatPciAddress(parsed!)).toBe(canonical);
  });

  it.each(["", "3b:00", "3b:00.8", "0000:3b:20.0", "0000:3b:0.1", "zz:00.0", "0000:3b:00.2 ", "a:b:c:d"])(
    "refuses %j",
    (text) => {
      expect(parsePciAddress(text)).toBeNull();
    },
  );

  it("orders by domain, bus, slot and function numerically", () => {
    const names = ["10000:00:00.0", "0000:00:1f.0", "0000:00:02.0", "0001:00:00.0", "0000:00:02.1"];
    expect([...names].sort(comparePciNames)).toEqual([
      "0000:00:02.0",
      "0000:00:02.1",
      "0000:00:1f.0",
      "0001:00:00.0",
      "10000:00:00.0",
    ]);
  });
});

describe("parseDeviceReference", () => {
  const root = "/tmp/fake-sys";

  it.each([
    ["0000:3b:00.2", { name: "0000:3b:00.2" }],
    ["3b:00.2", { name: "0000:3b:00.2" }],
    ["/sys/bus/pci/devices/0000:3b:00.2", { name: "0000:3b:00.2", relativePath: "bus/pci/devices/0000:3b:00.2" }],
    ["/sys/bus/pci/devices/0000:3b:00.2/", { name: "0000:3b:00.2", relativePath: "bus/pci/devices/0000:3b:00.2" }],
    [
      "/tmp/fake-sys/bus/pci/devices/0000:3b:00.2",
      { name: "0000:3b:00.2", relativePath: "bus/pci/devices/0000:3b:00.2" },
    ],
    [
      "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.2",
      { name: "0000:3b:00.2", relativePath: "devices/pci0000:3a/0000:3a:00.0/0000:3b:00.2" },
    ],
    [
      "/sys/devices/pci10000:00/10000:00:02.0",
      { name: "10000:00:02.0", relativePath: "devices/pci10000:00/10000:00:02.0" },
    ],
  ])("%s names %j", (argument, expected) => {
    expect(parseDeviceReference(argument, root)).toEqual(expected);
  });

  it.each([
    ["eth0", /"eth0" is not a PCI device/],
    ["/etc/passwd", /not a path under \/tmp\/fake-sys/],
    ["/sys/bus/pci/devices/../../../etc/passwd", /not a path under/],
    ["/sys/bus/pci/devices/0000:3b:00.2/driver", /not a PCI device path/],
    ["/sys/class/net/eth0", /not a PCI device path/],
    ["/sys/devices/pci0000:3a/0000:3a:00.0/usb1", /not a PCI device path/],
    ["/sysfoo/bus/pci/devices/0000:3b:00.2", /not a path under/],
  ])("refuses %s by name", (argument, message) => {
    expect(() => parseDeviceReference(argument, root)).toThrow(UsageError);
    expect(() => parseDeviceReference(argument, root)).toThrow(message);
  });
});
