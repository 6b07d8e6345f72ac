/**
 * The boot suite's reading of the guest's kernel log (test/vm/boot/shared/kernelLog.ts):
 * the counts in its report are only as good as this parser, so it is tested on the lines
 * the kernel and the bind-log rule really write.
 */
import { describe, expect, it } from "vitest";
import {
  BIND_UEVENT_TAG,
  bindUevents,
  hostBinds,
  kernelBinds,
  ueventsMissingFromKernelLog,
} from "../vm/boot/shared/kernelLog.js";

const LOG = [
  "[    0.912345] driver: 'nvme': driver_bound: bound to device '0000:00:06.0'",
  "[    0.912400] bus: 'pci': really_probe: bound device 0000:00:06.0 to driver nvme",
  "[    2.100000] driver: 'virtio-pci': driver_bound: bound to device '0000:00:02.0'",
  // A virtio bus device: not PCI, never counted.
  "[    2.200000] driver: 'virtio_blk': driver_bound: bound to device 'virtio0'",
  `[    2.300000] ${BIND_UEVENT_TAG} 0000:00:02.0 virtio-pci`,
  // dev_dbg() form of later kernels.
  "[    5.000000] pci 0000:00:03.0: driver: 'fixture-vfio-virtio-subsys': driver_bound: bound to device",
  // Linux 6.12 prefixes it with the bound driver's name, not the bus's.
  "[    5.500000] nvme 0000:00:09.0: driver: 'nvme': driver_bound: bound to device",
  "[    6.000000] driver: 'vmxnet3': driver_bound: bound to device '0000:00:07.0'",
  `[    6.100000] ${BIND_UEVENT_TAG} 0000:00:07.0 vmxnet3`,
  `[    6.200000] ${BIND_UEVENT_TAG} 0000:00:07.0 vmxnet3`,
];

describe("kernelBinds", () => {
  it("reads both forms of dd.c's driver_bound line, PCI devices only, with their times", () => {
    expect(kernelBinds(LOG)).toEqual([
      { address: "0000:00:06.0", driver: "nvme", time: 0.912345 },
      { address: "0000:00:02.0", driver: "virtio-pci", time: 2.1 },
      { address: "0000:00:03.0", driver: "fixture-vfio-virtio-subsys", time: 5 },
      { address: "0000:00:09.0", driver: "nvme", time: 5.5 },
      { address: "0000:00:07.0", driver: "vmxnet3", time: 6 },
    ]);
  });

  it("reads lines without a timestamp (dmesg --notime)", () => {
    expect(kernelBinds(["driver: 'vfio-pci': driver_bound: bound to device '0000:00:09.0'"])).toEqual([
      { address: "0000:00:09.0", driver: "vfio-pci", time: null },
    ]);
  });
});

describe("hostBinds", () => {
  it("keeps the claimed devices' binds by drivers outside the VFIO family", () => {
    const binds = kernelBinds(LOG);
    const claimed = ["0000:00:03.0", "0000:00:06.0", "0000:00:07.0"];
    expect(hostBinds(binds, claimed, ["vfio-pci", "fixture-vfio-virtio-subsys"]).map((b) => b.driver)).toEqual([
      "nvme",
      "vmxnet3",
    ]);
  });
});

describe("ueventsMissingFromKernelLog", () => {
  it("names a uevent whose bind the kernel log lacks, counting repeats", () => {
    // Two vmxnet3 uevents for 07.0, one kernel line: one is missing.
    expect(ueventsMissingFromKernelLog(kernelBinds(LOG), bindUevents(LOG))).toEqual([
      { address: "0000:00:07.0", driver: "vmxnet3", time: 6.2 },
    ]);
  });

  it("is empty when every uevent has its kernel line", () => {
    expect(ueventsMissingFromKernelLog(kernelBinds(LOG), bindUevents(LOG.slice(0, 8)))).toEqual([]);
  });
});
