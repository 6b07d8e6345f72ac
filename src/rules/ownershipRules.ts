/**
 * The ownership section of the generated rules: OWNER=, GROUP= and MODE= of the VFIO nodes
 * of claimed devices.
 */
import { RuntimeFailure } from "../errors.js";
import { isAccountName, isNodeMode } from "../config/nodeAccess.js";
import type { NodeOwnership } from "../policy/nodeOwnership.js";
import { isSysfsPciName } from "../sysfs/pciAddress.js";
import { quoteForDisplay } from "../text/safeText.js";
import { groupHoldsDevice, is, type Line, OWNER_END_LABEL, set, where } from "./ruleVocabulary.js";
import { commentText, type RuleToken } from "./udevRuleSyntax.js";

/** OWNER= and GROUP=, and apart from them MODE=, for one node, each value proven by its pattern again. */
function ownershipTokens(node: NodeOwnership): { readonly owner: RuleToken[]; readonly mode: RuleToken[] } {
  const refuse = (what: string): never => {
    throw new RuntimeFailure(
      `${commentText(where(node.claim.origin))}: ${what} is not a valid value; no udev rules were written`,
    );
  };
  const owner: RuleToken[] = [];
  const mode: RuleToken[] = [];
  if (node.owner !== null) {
    if (!isAccountName(node.owner.user)) refuse(`Owner user ${quoteForDisplay(node.owner.user)}`);
    owner.push(set("OWNER", node.owner.user));
    if (node.owner.group !== null) {
      if (!isAccountName(node.owner.group)) refuse(`Owner group ${quoteForDisplay(node.owner.group)}`);
      owner.push(set("GROUP", node.owner.group));
    }
  }
  if (node.mode !== null) {
    if (!isNodeMode(node.mode)) refuse(`Mode ${quoteForDisplay(node.mode)}`);
    mode.push(set("MODE", node.mode));
  }
  return { owner, mode };
}

/**
 * The ownership section, after the claims' section: no RUN, so no process starts for a
 * node. The group node (`vfio` subsystem, named by its group number, no PCI parent) is
 * matched by the device its group holds, never by the group's number now: after a hardware
 * change renumbers the groups, a number would give the owner another device's node. The
 * cdev (`vfio-dev`, a child of the PCI device) is matched by its parent's address. MODE= has
 * a line of its own: systemd 258 and 259 drop a whole line whose OWNER= or GROUP= names an
 * account that is not a system account (docs/kernel-facts.md, section 8), and the mode must
 * not go with it. Every event but remove: udev applies permissions again on change events,
 * and a node that matched no rule then would go back to root-only.
 */
export function ownershipLines(nodes: readonly NodeOwnership[]): Line[] {
  if (nodes.length === 0) return [];
  const end = set("GOTO", OWNER_END_LABEL);
  const lines: Line[] = [
    { comment: "Owner= and Mode= of the VFIO nodes of claimed devices present at apply time." },
    { tokens: [is("ACTION", "remove"), end] },
    { tokens: [{ ...is("SUBSYSTEM", "vfio|vfio-dev"), op: "!=" }, end] },
  ];
  for (const node of nodes) {
    if (!isSysfsPciName(node.address))
      throw new RuntimeFailure(`unexpected device address ${quoteForDisplay(node.address)}`);
    const { owner, mode } = ownershipTokens(node);
    lines.push({ comment: `${node.address}, [Claim] ${where(node.claim.origin)}` });
    const matches: RuleToken[][] = [
      [is("SUBSYSTEM", "vfio-dev"), is("KERNEL", "vfio[0-9]*"), is("KERNELS", node.address)],
    ];
    if (node.iommuGroup !== null)
      matches.unshift([is("SUBSYSTEM", "vfio"), is("KERNEL", "[0-9]*"), is("TEST", groupHoldsDevice(node.address))]);
    for (const match of matches)
      for (const assigned of [owner, mode]) if (assigned.length > 0) lines.push({ tokens: [...match, ...assigned] });
  }
  lines.push({ tokens: [set("LABEL", OWNER_END_LABEL)] });
  return lines;
}
