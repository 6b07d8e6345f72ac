/**
 * Who may be held: one table, compiled into the three places that hold a device or decide
 * about one — the generated udev rules (claimRules.ts), the boot-time hold script
 * (holdScript.ts) and the TypeScript policy (holdRefusal). A device is held only when no
 * row applies; a property test evaluates all three on generated devices and demands one
 * verdict (test/unit/holdEligibility.test.ts). Pure.
 *
 * Each row says, in each language, when the device must NOT be held:
 * - `udev`: one match token on the device (the rules jump past the hold when it holds);
 * - `sh`: a POSIX sh condition over `$dev` (the device's sysfs directory) and `$value`
 *   helpers from the hold script, true when the row applies;
 * - `applies`: the same on a device as the sysfs adapter reads it.
 * A held device has no driver at all, so every row errs on the side of not holding.
 */
import { HOLD_OVERRIDE, NO_OVERRIDE } from "./hold.js";

/** What a row reads of a device: the sysfs adapter's view, narrowed to these facts. */
export interface HoldFacts {
  readonly driver: string | null;
  readonly driverOverride: string | null;
  readonly iommuGroup: string | null;
  /** Six hex digits. */
  readonly classCode: string;
  readonly bootVga: boolean;
  /** Enabled VFs (0 for a device that is no PF). */
  readonly numVfs: number;
}

/** A udev match token, as claimRules.ts renders it. */
export interface UdevCondition {
  readonly key: "TEST" | "ATTR";
  readonly attr: string | null;
  readonly op: "==" | "!=";
  readonly value: string;
}

export interface HoldRule {
  /** Why the device is not held, for a reader of the rules, the script and the journal. */
  readonly why: string;
  readonly udev: UdevCondition;
  readonly sh: string;
  readonly applies: (device: HoldFacts) => boolean;
}

/** An override that is nobody's, or the hold itself: the only ones a hold may replace. */
export const OURS_OR_NONE = `${NO_OVERRIDE}|${HOLD_OVERRIDE}`;

export const HOLD_RULES: readonly HoldRule[] = [
  {
    why: "it is on a driver already (built in, or loaded before the hold): the helper takes it",
    udev: { key: "TEST", attr: null, op: "==", value: "driver" },
    sh: '[ -L "$dev/driver" ]',
    applies: (d) => d.driver !== null,
  },
  {
    why: "it has no IOMMU group: no VFIO driver can take it",
    udev: { key: "TEST", attr: null, op: "!=", value: "iommu_group" },
    sh: '[ ! -e "$dev/iommu_group" ]',
    applies: (d) => d.iommuGroup === null,
  },
  {
    why: "its driver_override was set by someone else, and is never overwritten",
    udev: { key: "ATTR", attr: "driver_override", op: "!=", value: OURS_OR_NONE },
    // Some kernels print an unset override as an empty line (kernel-facts.md, section 4).
    sh: `! { read_attr "$dev/driver_override" && case $value in "${NO_OVERRIDE}" | "" | "${HOLD_OVERRIDE}") true ;; *) false ;; esac; }`,
    applies: (d) => d.driverOverride !== null && d.driverOverride !== HOLD_OVERRIDE,
  },
  {
    why: "it is a bridge: bridges never go to VFIO",
    udev: { key: "ATTR", attr: "class", op: "==", value: "0x06*" },
    sh: '! read_attr "$dev/class" || case $value in 0x06*) true ;; *) false ;; esac',
    applies: (d) => d.classCode.startsWith("06"),
  },
  {
    why: "it is the boot display: the host's console must not go dark at boot",
    udev: { key: "ATTR", attr: "boot_vga", op: "==", value: "1" },
    sh: 'read_attr "$dev/boot_vga" && [ "$value" = 1 ]',
    applies: (d) => d.bootVga,
  },
  {
    why: "it is a PF with VFs enabled, which no VFIO driver takes",
    udev: { key: "ATTR", attr: "sriov_numvfs", op: "==", value: "[1-9]*" },
    sh: 'read_attr "$dev/sriov_numvfs" && case $value in [1-9]*) true ;; *) false ;; esac',
    applies: (d) => d.numVfs > 0,
  },
];

/** Why `device` must not be held, or null when it may be. */
export function holdRefusal(device: HoldFacts): string | null {
  return HOLD_RULES.find((rule) => rule.applies(device))?.why ?? null;
}
