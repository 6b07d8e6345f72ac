/**
 * The hold: a `driver_override` value that names no driver, so that from the moment it is
 * written `pci_match_device()` refuses every driver, host or VFIO, until vfio-autobind
 * replaces it (kernel-facts.md, "Holding a device"). Written by the generated udev rules,
 * the boot-time hold script (initramfs and the unit before udev's coldplug) and read by
 * the helper, release, apply and status. One home for the value and the switch.
 */

/** What driver_override holds while a claimed device waits for its VFIO driver. */
export const HOLD_OVERRIDE = "vfio-autobind-hold";

/**
 * The kernel command line switch that turns every hold off (`vfio_autobind.hold=0`): a
 * diagnostic, to see the host binds the holds prevent. udev reads it with IMPORT{cmdline},
 * the hold script from /proc/cmdline.
 */
export const HOLD_SWITCH = "vfio_autobind.hold";

/** driver_override as sysfs reads it when nothing is set. */
export const NO_OVERRIDE = "(null)";

export const isHold = (override: string | null | undefined): boolean => override === HOLD_OVERRIDE;

/**
 * Whether a device's driver_override is one vfio-autobind put there for this device's
 * claim: the hold, or the driver the generated rules wrote for this event. Such a device
 * was never the host's: if no VFIO driver binds it, it goes back to the kernel's choice.
 * Any other value is the admin's and is never overwritten.
 */
export function isOverrideOurs(override: string | null, rulesDriver: string | null): boolean {
  return isHold(override) || (rulesDriver !== null && override === rulesDriver);
}
