/**
 * The udev properties the generated rules set and the helper reads: one home for their
 * names (claimRules.ts writes them, handleAddEvent.ts reads them from its environment).
 */
export const RULE_ENV = {
  /** The claim that marked the device (`file:line`, a trace for `udevadm info`). */
  claim: "VFIO_AUTOBIND_CLAIM",
  /** How the rules decided: `auto` (ranked in the rules), `pin` (the claim's Driver=), `hold` (left to the helper). */
  plan: "VFIO_AUTOBIND_PLAN",
  /** The module and PCI driver name the rules chose; empty when they could not decide. */
  module: "VFIO_AUTOBIND_MODULE",
  driver: "VFIO_AUTOBIND_DRIVER",
} as const;
