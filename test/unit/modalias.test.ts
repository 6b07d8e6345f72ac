import { describe, expect, it } from "vitest";
import { parseModalias, vfioMatchString } from "../../src/alias/modalias.js";

describe("parseModalias", () => {
  it("splits a kernel modalias into its fields", () => {
    const m = parseModalias("pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00");
    expect(m).toMatchObject({
      vendor: "00001AF4",
      device: "00001041",
      subsystemVendor: "00001AF4",
      subsystemDevice: "00001100",
      baseClass: "02",
      subClass: "00",
      progIf: "00",
    });
    expect(vfioMatchString(m)).toBe("vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00");
  });

  it.each([
    ["", "empty"],
    ["pci:v00001af4d00001041sv00001AF4sd00001100bc02sc00i00", "lower-case hex"],
    ["pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00\n", "trailing newline"],
    ["pci:v1AF4d1041sv1AF4sd1100bc02sc00i00", "short ids"],
    ["usb:v1D6Bp0002d0606dc09dsc00dp03ic09isc00ip00in00", "another bus"],
    ["vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", "already prefixed"],
    ["pci:v*d*sv*sd*bc*sc*i*", "a pattern, not a device"],
  ])("refuses %j (%s) with a message naming the expected form", (text) => {
    expect(() => parseModalias(text)).toThrow(/not a PCI modalias: .*expected pci:v/);
  });
});
