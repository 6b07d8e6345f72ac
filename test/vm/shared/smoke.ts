/**
 * The smoke suite (`npm run test:smoke`): the part of the VM suite that proves the tool on
 * another Debian release in one boot. Install with the release's apt; claims present at
 * boot bound by coldplug; hotplug and `udevadm trigger` bound by the compiled rules, with
 * the helper's record and journal line; a variant bind and `release`; Owner=/Mode= on the
 * VFIO nodes. Both lists name the same scenarios: the guest runs these, the host asserts
 * with these files.
 */

export const SMOKE_SCENARIOS = [
  "tool-runs",
  "udev-boot",
  "udev-hotplug",
  "udev-sriov",
  "udev-trigger",
  "bind-variant",
  "vfio-ownership",
  "vfio-ownership-accounts",
] as const;

/** The test files (in test/vm/) that assert on those scenarios, and the untouched device. */
export const SMOKE_TEST_FILES = [
  "toolRuns.test.ts",
  "udev.test.ts",
  "bindVariant.test.ts",
  "vfioOwnership.test.ts",
  "vfioOwnershipAccounts.test.ts",
  "untouchedDevices.test.ts",
] as const;
