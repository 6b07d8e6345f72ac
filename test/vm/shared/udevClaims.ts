/**
 * What the udev scenarios claim, in one place: the claim files put into the guest's
 * /etc/vfio-autobind before it boots (host/bootFiles.ts turns them into the generated
 * udev rules as well), the device claimed later at run time, and what each claimed device
 * must end on. Guest scenarios and test files read the same facts.
 *
 * Each claim combines selectors that the generated rules turn into different udev match
 * keys (KERNEL globs, ATTR{vendor}/ATTR{subsystem_vendor}, ATTR{class}), so real udevd
 * evaluates every kind. Each also names its device by address: the CLI scenarios' devices
 * have the same ids and classes and must stay unclaimed.
 */
import {
  addressBehind,
  fixtureVariants,
  genericVfio,
  rootPorts,
  sriovUdevController,
  udevBootDevices,
} from "./machineLayout.js";

export const GUEST_CONFIG_DIR = "/etc/vfio-autobind";
export const GUEST_RULES_FILE = "/etc/udev/rules.d/69-vfio-autobind-claims.rules";
/** The .deb the guest's vfio-autobind was installed from, kept for the upgrade scenario. */
export const GUEST_TOOL_PACKAGE = "/var/cache/vfio-autobind-vm/vfio-autobind.deb";

/** The hot-plugged device the claims select (behind hotplug2), and the one they do not (behind hotplug3). */
export const udevHotplugDevices = {
  claimed: {
    requestId: "udev-hotplug-claimed",
    qemuId: "udev-hp-claimed",
    port: rootPorts.hotplug2,
    address: addressBehind(rootPorts.hotplug2),
  },
  unclaimed: {
    requestId: "udev-hotplug-unclaimed",
    qemuId: "udev-hp-unclaimed",
    port: rootPorts.hotplug3,
    address: addressBehind(rootPorts.hotplug3),
  },
} as const;

/** The VFs of the udev SR-IOV PF, as the layout places them. */
export const udevSriovVfs: readonly string[] = Array.from({ length: sriovUdevController.maxVfs }, (_, n) => {
  const [domain, bus, slotFn] = sriovUdevController.pfAddress.split(":") as [string, string, string];
  const [slot, fn] = slotFn.split(".") as [string, string];
  const id =
    (parseInt(bus, 16) << 8) +
    (parseInt(slot, 16) << 3) +
    parseInt(fn, 16) +
    sriovUdevController.vfOffset +
    n * sriovUdevController.vfStride;
  return `${domain}:${(id >> 8).toString(16).padStart(2, "0")}:${((id >> 3) & 0x1f).toString(16).padStart(2, "0")}.${id & 7}`;
});

/** Claim files in the guest before boot, by file name under GUEST_CONFIG_DIR. */
export const bootClaimFiles: Readonly<Record<string, string>> = {
  "10-vmtest-boot.conf": [
    "# Written by the VM suite before boot (test/vm/shared/udevClaims.ts).",
    "",
    "# virtio-net: its subsystem ids and its slot (00:03.0 has the same ids, unclaimed).",
    "[Claim]",
    `Address=${udevBootDevices.netClaimed.address}`,
    "Ids=1af4:1041:1af4:1100",
    "",
    "# The second NVMe controller, by class and slot (00:07.0 is NVMe too, unclaimed).",
    "[Claim]",
    `Address=${udevBootDevices.nvmeClaimed.address}`,
    "Class=0x010802",
    "",
    "# Whatever is hot-plugged behind the second hotplug port (a glob), not the third.",
    "[Claim]",
    `Address=${udevHotplugDevices.claimed.address.replace(/\.0$/, ".*")}`,
    "",
  ].join("\n"),
  "20-vmtest-sriov.conf": [
    "# Written by the VM suite before boot (test/vm/shared/udevClaims.ts).",
    "[Claim]",
    `VfsOf=${sriovUdevController.pfAddress}`,
    "Driver=auto",
    "",
  ].join("\n"),
};

/** Devices the boot claims select that exist at boot, with the driver each must end on. */
export const bootClaimedDevices: Readonly<Record<string, string>> = {
  [udevBootDevices.netClaimed.address]: fixtureVariants.subsys.driver,
  [udevBootDevices.nvmeClaimed.address]: genericVfio.driver,
};

/** Every device any udev scenario claims, at boot or later, with the driver it must end on. */
export const udevClaimedDevices: Readonly<Record<string, string>> = {
  ...bootClaimedDevices,
  [udevHotplugDevices.claimed.address]: fixtureVariants.subsys.driver,
  ...Object.fromEntries(udevSriovVfs.map((vf) => [vf, genericVfio.driver])),
  [udevBootDevices.blkLateClaim.address]: fixtureVariants.generic.driver,
};
