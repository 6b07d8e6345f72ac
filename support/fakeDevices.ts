/** Devices the fake trees share, as QEMU shows them: one home for their IDs and layout. */
import type { FakeDeviceSpec } from "./fakeSysfs.js";

/** QEMU's modern virtio-net (1af4:1041, subsystem 1af4:1100) on its host driver, alone in IOMMU group 3. */
export const VIRTIO_NET_DEVICE: FakeDeviceSpec = {
  address: "0000:00:03.0",
  vendor: "1af4",
  device: "1041",
  subsystemDevice: "1100",
  driver: "virtio-pci",
  iommuGroup: 3,
};
