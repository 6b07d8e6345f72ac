/**
 * Who owns the VFIO nodes of claimed devices (Owner=, Mode=), decided for the devices
 * present now. Pure. The group node `/dev/vfio/<group>` is one per IOMMU group, so every
 * device of a group must agree: two claims that give one group different owners or modes
 * are a config error at both claims' lines. The cdev `/dev/vfio/devices/vfioN` is one per
 * device and follows that device's claim.
 */
import type { Claim, ConfigError } from "../config/claimConfig.js";
import type { NodeOwner } from "../config/nodeAccess.js";

export interface NodeOwnership {
  /** The device, in sysfs form; its cdev rule matches it as the cdev's parent. */
  readonly address: string;
  /** Its IOMMU group, whose node gets the same owner; null: none (no group node). */
  readonly iommuGroup: string | null;
  readonly owner: NodeOwner | null;
  readonly mode: string | null;
  readonly claim: Claim;
}

export interface OwnershipPlan {
  readonly nodes: readonly NodeOwnership[];
  readonly errors: readonly ConfigError[];
}

const describe = (o: { owner: NodeOwner | null; mode: string | null }): string =>
  [
    o.owner === null
      ? "the default owner"
      : `Owner=${o.owner.user}${o.owner.group === null ? "" : `:${o.owner.group}`}`,
    o.mode === null ? "the default mode" : `Mode=${o.mode}`,
  ].join(" and ");

const same = (a: NodeOwnership, b: NodeOwnership): boolean =>
  a.mode === b.mode && a.owner?.user === b.owner?.user && (a.owner?.group ?? null) === (b.owner?.group ?? null);

/**
 * `claimed`: every present device a claim selects, with its IOMMU group. Devices whose
 * claim gives neither Owner= nor Mode= are left out, except to detect a group whose other
 * devices ask for an owner: that group's node would be shared with a device nobody gave away.
 */
export function planNodeOwnership(
  claimed: readonly { address: string; iommuGroup: string | null; claim: Claim }[],
): OwnershipPlan {
  const all: NodeOwnership[] = claimed.map((c) => ({ ...c, owner: c.claim.owner, mode: c.claim.mode }));
  const errors: ConfigError[] = [];
  const byGroup = new Map<string, NodeOwnership[]>();
  for (const node of all) {
    if (node.iommuGroup === null) continue;
    byGroup.set(node.iommuGroup, [...(byGroup.get(node.iommuGroup) ?? []), node]);
  }
  const conflicted = new Set<string>();
  for (const [group, nodes] of byGroup) {
    const first = nodes[0] as NodeOwnership;
    const other = nodes.find((n) => !same(n, first));
    if (other === undefined) continue;
    conflicted.add(group);
    for (const [a, b] of [
      [first, other],
      [other, first],
    ] as const) {
      errors.push({
        file: a.claim.origin.file,
        line: a.claim.ownershipLine || a.claim.origin.line,
        message: `IOMMU group ${group} shares one node /dev/vfio/${group}: ${a.address} gets ${describe(a)} here, but ${b.address} gets ${describe(b)} from ${b.claim.origin.file}:${b.claim.ownershipLine || b.claim.origin.line}; give every claimed device of the group the same Owner= and Mode=`,
      });
    }
  }
  const unique = errors.filter(
    (e, i) => errors.findIndex((f) => f.file === e.file && f.line === e.line && f.message === e.message) === i,
  );
  return {
    nodes: all.filter(
      (n) => (n.owner !== null || n.mode !== null) && (n.iommuGroup === null || !conflicted.has(n.iommuGroup)),
    ),
    errors: unique,
  };
}
