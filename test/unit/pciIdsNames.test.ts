import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { formatPciNames, lookupPciNames } from "../../src/pciids/pciIdsNames.js";
import { readPciIds } from "../../src/pciids/readPciIds.js";

const PCI_IDS = [
  "# pci.ids excerpt",
  "1af4  Red Hat, Inc.",
  "\t1000  Virtio network device",
  "\t\t01de fffb  Propolis Virtio network device",
  "\t1041  Virtio 1.0 network device",
  "1b36  Red Hat, Inc.",
  "\t0010  QEMU NVM Express Controller",
  "8086  Intel Corporation",
  "\t1041  Not the virtio one",
  "C 01  Mass storage controller",
  "\t08  Non-Volatile memory controller",
  "\t\t02  NVM Express",
  "C 02  Network controller",
  "\t00  Ethernet controller",
  "C 12  Processing accelerators",
  "",
].join("\n");

describe("lookupPciNames", () => {
  it("finds vendor, device and class as lspci shows them", () => {
    const names = lookupPciNames(PCI_IDS, "1af4", "1041", "020000");
    expect(names).toEqual({
      vendor: "Red Hat, Inc.",
      device: "Virtio 1.0 network device",
      className: "Ethernet controller",
    });
    expect(formatPciNames(names)).toBe("Ethernet controller: Red Hat, Inc. Virtio 1.0 network device");
  });

  it("does not take a device name from the next vendor's block", () => {
    expect(lookupPciNames(PCI_IDS, "1b36", "1041", "010802").device).toBeNull();
    expect(lookupPciNames(PCI_IDS, "1b36", "0010", "010802")).toEqual({
      vendor: "Red Hat, Inc.",
      device: "QEMU NVM Express Controller",
      className: "Non-Volatile memory controller",
    });
  });

  it("falls back to the base class name and copes with unknown ids", () => {
    expect(lookupPciNames(PCI_IDS, "dead", "beef", "120000")).toEqual({
      vendor: null,
      device: null,
      className: "Processing accelerators",
    });
    expect(formatPciNames({ vendor: null, device: null, className: null })).toBeNull();
  });
});

describe("readPciIds", () => {
  it("passes over a FIFO or /dev/zero at a pci.ids location and reads the next one", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-pciids-"));
    try {
      const fifo = path.join(dir, "fifo.ids");
      execFileSync("mkfifo", [fifo]);
      fs.symlinkSync("/dev/zero", path.join(dir, "zero.ids"));
      fs.writeFileSync(path.join(dir, "pci.ids"), "1af4  Red Hat, Inc.\n");
      expect(readPciIds([fifo, path.join(dir, "zero.ids"), path.join(dir, "pci.ids")])).toBe("1af4  Red Hat, Inc.\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
