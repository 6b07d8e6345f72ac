/**
 * The udev properties the generated rules set and the helper reads: one home for their
 * names (claimRules.ts and rankingRules.ts write them, handleAddEvent.ts reads them from
 * its environment).
 */
export const RULE_ENV = {
  /** The claim that marked the device (`file:line`, a trace for `udevadm info`). */
  claim: "VFIO_AUTOBIND_CLAIM",
  /** How the rules decide: `auto` (ranked in the rules), `pin` (the claim's Driver=), `hold` (left to the helper). */
  plan: "VFIO_AUTOBIND_PLAN",
  /** The module and PCI driver name the rules chose, before they know whether they can write it. */
  planModule: "VFIO_AUTOBIND_PLAN_MODULE",
  planDriver: "VFIO_AUTOBIND_PLAN_DRIVER",
  /**
   * The module and driver name the rules wrote to driver_override during this event: set on
   * the same rule line as the write, so the helper takes an override for its own only when
   * the rules provably wrote it now (an admin's override that happens to name the same
   * driver is never ours).
   */
  module: "VFIO_AUTOBIND_MODULE",
  driver: "VFIO_AUTOBIND_DRIVER",
} as const;
