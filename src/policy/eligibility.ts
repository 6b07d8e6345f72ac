/**
 * Who may be held, and who may be bound: one table. Each row is one fact about a device
 * that stands in the way, with its one predicate, compiled into every place that holds a
 * device or decides about one — the generated udev rules (decisionRules.ts), the boot-time
 * hold script (holdScript.ts), the hold verdict (holdRefusal) and the bind side
 * (safetyVerdict.ts). A property test evaluates all of them on generated devices and
 * demands one verdict (test/unit/eligibility.test.ts). Pure.
 *
 * A row's sides:
 * - `hold`, when the fact keeps a device from being held: one udev match token (the rules
 *   jump past the hold when it holds) and a POSIX sh condition over `$dev` (the device's
 *   sysfs directory) and the hold script's `$value` helpers, both true when the row applies.
 *   A held device has no driver at all, so every hold row errs on the side of not holding.
 * - `bind`, when the fact refuses taking the device to VFIO: the admin-facing refusal and
 *   who may go past it.
 *
 * udev and sh see no PCI header type: sysfs publishes it only as byte 0x0E of the binary
 * `config` file, which a udev match cannot read and sh only with od or dd, which an
 * initramfs need not have. The PCI spec pairs a bridge header with class 0604 or 0609 and a
 * CardBus header with 0607, so class 06 alone catches every bridge that keeps to the spec;
 * the bind side reads the header as well, for those that do not.
 */
import type { HeaderKind } from "../sysfs/pciDevice.js";
import { HOLD_OVERRIDE, isHold, NO_OVERRIDE } from "./hold.js";

/** What the rows read of a device: the sysfs adapter's view, narrowed to these facts. */
export interface EligibilityFacts {
  readonly driver: string | null;
  readonly driverOverride: string | null;
  readonly iommuGroup: string | null;
  /** Six hex digits. */
  readonly classCode: string;
  /** Null where it cannot be seen: in udev and sh (above). */
  readonly headerKind: HeaderKind | null;
  readonly bootVga: boolean;
  /** Enabled VFs (0 for a device that is no PF). */
  readonly numVfs: number;
}

/** What the reader knows beyond the device. */
export interface EligibilityContext {
  /**
   * Whether a driver_override is vfio-autobind's to replace. The hold knows only the hold
   * itself; a claim's bind also the driver the rules wrote for the event and every VFIO
   * driver loaded now.
   */
  readonly overrideIsOurs: (override: string) => boolean;
}

/** What the hold (udev, sh, holdRefusal) knows. */
export const HOLD_CONTEXT: EligibilityContext = { overrideIsOurs: isHold };

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
}

/**
 * Who may take a device past a bind-side row: nobody; `--force` (a claim's Force=yes); or
 * a `bind` by hand, the admin's own act — never a claim or a udev event.
 */
export type BindOverride = "nobody" | "force" | "manual-bind";

export interface BindRule {
  readonly refusal: (device: EligibilityFacts) => string;
  readonly overriddenBy: BindOverride;
}

export interface EligibilityRow {
  readonly applies: (device: EligibilityFacts, context: EligibilityContext) => boolean;
  /** Null: the fact does not keep a device from being held. */
  readonly hold: HoldRule | null;
  /** Null: the fact does not stand in the way of a bind. */
  readonly bind: BindRule | null;
}

/** An override that is nobody's, or the hold itself: the only ones a hold may replace. */
export const OURS_OR_NONE = `${NO_OVERRIDE}|${HOLD_OVERRIDE}`;

/** PCI base class 06 (host, ISA, PCI-to-PCI, CardBus... bridges), from the class code `060000`. */
export function isBridgeClass(classCode: string): boolean {
  return classCode.slice(0, 2) === "06";
}

type BridgeFacts = Pick<EligibilityFacts, "classCode" | "headerKind">;
const isBridgeHeader = (d: BridgeFacts): boolean => d.headerKind === "bridge" || d.headerKind === "cardbus";

/** The rows by name; ELIGIBILITY has them in order. */
export const ROWS = {
  /** Hold only: bind takes a device from its host driver; a hold would only race the driver. */
  driven: {
    applies: (d: Pick<EligibilityFacts, "driver">) => d.driver !== null,
    hold: {
      why: "it is on a driver already (built in, or loaded before the hold): the helper takes it",
      udev: { key: "TEST", attr: null, op: "==", value: "driver" },
      sh: '[ -L "$dev/driver" ]',
    },
    bind: null,
  },
  /**
   * vfio-pci refuses bridges, and the devices behind one would go with it. By header type or
   * by class: a host bridge has an endpoint header but class 0600.
   */
  bridge: {
    applies: (d: BridgeFacts) => isBridgeHeader(d) || isBridgeClass(d.classCode),
    hold: {
      why: "it is a bridge: bridges never go to VFIO",
      udev: { key: "ATTR", attr: "class", op: "==", value: "0x06*" },
      sh: '! read_attr "$dev/class" || case $value in 0x06*) true ;; *) false ;; esac',
    },
    bind: {
      refusal: (d: BridgeFacts) =>
        `${
          isBridgeHeader(d)
            ? `it is a PCI ${d.headerKind === "bridge" ? "bridge" : "CardBus bridge"}`
            : `it is a bridge (class ${d.classCode.slice(0, 4)})`
        }; only endpoint devices can go to VFIO`,
      overriddenBy: "nobody",
    },
  },
  /** Bind only: the hold cannot see the header (above). */
  unreadableHeader: {
    applies: (d: BridgeFacts) => d.headerKind === "unknown" && !isBridgeClass(d.classCode),
    hold: null,
    bind: {
      refusal: () => "its PCI header type cannot be read; only endpoint devices can go to VFIO",
      overriddenBy: "nobody",
    },
  },
  /** vfio-pci refuses such a PF with EBUSY. */
  pfWithVfs: {
    applies: (d: Pick<EligibilityFacts, "numVfs">) => d.numVfs > 0,
    hold: {
      why: "it is a PF with VFs enabled, which no VFIO driver takes",
      udev: { key: "ATTR", attr: "sriov_numvfs", op: "==", value: "[1-9]*" },
      sh: 'read_attr "$dev/sriov_numvfs" && case $value in [1-9]*) true ;; *) false ;; esac',
    },
    bind: {
      refusal: (d: Pick<EligibilityFacts, "numVfs">) =>
        `it has ${d.numVfs} VFs enabled and VFIO refuses such a PF; set sriov_numvfs to 0 first, or claim its VFs`,
      overriddenBy: "nobody",
    },
  },
  /** No VFIO driver binds a device outside an IOMMU group. */
  noIommuGroup: {
    applies: (d: Pick<EligibilityFacts, "iommuGroup">) => d.iommuGroup === null,
    hold: {
      why: "it has no IOMMU group: no VFIO driver can take it",
      udev: { key: "TEST", attr: null, op: "!=", value: "iommu_group" },
      sh: '[ ! -e "$dev/iommu_group" ]',
    },
    bind: {
      refusal: () => "it has no IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on) and reboot",
      overriddenBy: "nobody",
    },
  },
  /** Set by the admin by hand, driverctl, a script: never overwritten by a hold or a claim. */
  foreignOverride: {
    applies: (d: Pick<EligibilityFacts, "driverOverride">, context: EligibilityContext) =>
      d.driverOverride !== null && !context.overrideIsOurs(d.driverOverride),
    hold: {
      why: "its driver_override was set by someone else, and is never overwritten",
      udev: { key: "ATTR", attr: "driver_override", op: "!=", value: OURS_OR_NONE },
      // Some kernels print an unset override as an empty line (kernel-facts.md, section 4).
      sh: `! { read_attr "$dev/driver_override" && case $value in "${NO_OVERRIDE}" | "" | "${HOLD_OVERRIDE}") true ;; *) false ;; esac; }`,
    },
    bind: {
      refusal: (d: Pick<EligibilityFacts, "driverOverride">) =>
        `its driver_override is ${JSON.stringify(d.driverOverride)}, set outside vfio-autobind; it is never overwritten: clear it (echo > driver_override) and run "vfio-autobind apply"`,
      overriddenBy: "manual-bind",
    },
  },
  /** The host's console must not go dark; a bind with --force may take it all the same. */
  bootDisplay: {
    applies: (d: Pick<EligibilityFacts, "bootVga">) => d.bootVga,
    hold: {
      why: "it is the boot display: the host's console must not go dark at boot",
      udev: { key: "ATTR", attr: "boot_vga", op: "==", value: "1" },
      sh: 'read_attr "$dev/boot_vga" && [ "$value" = 1 ]',
    },
    bind: { refusal: () => "it is the boot display (boot_vga)", overriddenBy: "force" },
  },
} as const satisfies Record<string, EligibilityRow>;

/** Every row, in the order the rules, the script and the bind refusals list them. */
export const ELIGIBILITY: readonly EligibilityRow[] = Object.values(ROWS);

/** The hold side of the table, in order. */
export const HOLD_RULES: readonly HoldRule[] = ELIGIBILITY.flatMap((row) => (row.hold === null ? [] : [row.hold]));

/** Why `device` must not be held, or null when it may be. */
export function holdRefusal(device: EligibilityFacts): string | null {
  return ELIGIBILITY.find((row) => row.hold !== null && row.applies(device, HOLD_CONTEXT))?.hold?.why ?? null;
}

/** The bind-side refusals of the rows that `overriddenBy` may go past and that apply, in order. */
export function bindRefusals(
  device: EligibilityFacts,
  overriddenBy: BindOverride,
  context: EligibilityContext,
): string[] {
  return ELIGIBILITY.flatMap((row) =>
    row.bind !== null && row.bind.overriddenBy === overriddenBy && row.applies(device, context)
      ? [row.bind.refusal(device)]
      : [],
  );
}
