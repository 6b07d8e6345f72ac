/**
 * What `list` and `explain` report for a device: its facts, its ranked candidates with the
 * reason for each place, and the winner. Pure: the caller supplies the device, the alias
 * set, the admin's module policy and a way to learn a loaded module's PCI driver name.
 * A candidate the policy forbids keeps its place in the ranking, shown as skipped with
 * where it is forbidden; it takes no rank number and never wins.
 */
import type { AliasOrigin, SkippedLine } from "../alias/aliasRecords.js";
import { vfioMatchString } from "../alias/modalias.js";
import { rankCandidates, whyRanksBelow } from "../alias/rankCandidates.js";
import { NO_MODULE_POLICY, type ForbiddenModule, type ModulePolicy } from "../kmod/modulePolicy.js";
import type { VfioAliasSet } from "../kmod/readVfioAliases.js";
import { notForVfioRefusal } from "../policy/safetyVerdict.js";
import { devicePluginNote } from "./devicePlugins.js";
import type { PciDevice, SriovRole } from "../sysfs/pciDevice.js";
import type { VfioFacts } from "../sysfs/vfioHolders.js";

export interface RankedCandidate {
  /** Place among the candidates that may be used; null for a forbidden one. */
  readonly rank: number | null;
  /** Set when the admin forbade the module: it is skipped. */
  readonly forbidden: ForbiddenModule | null;
  readonly module: string;
  readonly pattern: string;
  readonly wildcards: number;
  readonly literals: number;
  readonly origin: AliasOrigin;
  /** Why it is not one place higher; null for the winner. */
  readonly belowBecause: string | null;
  readonly alsoMatched: readonly string[];
}

export interface Explanation {
  readonly device: PciDevice;
  /** Its VFIO nodes and who holds them; set by the caller (it needs /proc), null otherwise. */
  readonly vfio?: VfioFacts | null;
  /** For a claimed device on VFIO: the better driver it waits for, or the one the next boot gives it; set by the caller. */
  readonly driverChange?: string | null;
  readonly name: string | null;
  readonly matchString: string;
  readonly candidates: readonly RankedCandidate[];
  /** Why no VFIO driver is offered although aliases match (a bridge, no IOMMU group), or null. */
  readonly notForVfio: string | null;
  /** `driver` is null until the module is loaded and names its PCI driver in sysfs; null when notForVfio. */
  readonly best: { readonly module: string; readonly driver: string | null } | null;
  /** What Kubernetes device plugins make of the best driver, when it is a variant; else null. */
  readonly devicePlugins: string | null;
  /** The first skipped lines in detail; `skippedCount` counts them all. */
  readonly skipped: readonly SkippedLine[];
  readonly skippedCount: number;
  readonly fallback: boolean;
}

export function buildExplanation(
  device: PciDevice,
  aliasSet: VfioAliasSet,
  driverOfModule: (module: string) => string | null,
  name: string | null = null,
  modulePolicy: ModulePolicy = NO_MODULE_POLICY,
): Explanation {
  const ranked = rankCandidates(device.modalias, aliasSet.aliases);
  let allowed = 0;
  const candidates: RankedCandidate[] = ranked.map((candidate, index) => {
    const forbidden = modulePolicy.get(candidate.module) ?? null;
    if (forbidden === null) allowed += 1;
    return {
      rank: forbidden === null ? allowed : null,
      forbidden,
      module: candidate.module,
      pattern: candidate.pattern,
      wildcards: candidate.wildcards,
      literals: candidate.literals,
      origin: candidate.origin,
      belowBecause: index === 0 ? null : whyRanksBelow(candidate, ranked[index - 1]!),
      alsoMatched: candidate.alsoMatched,
    };
  });
  const winner = candidates.find((c) => c.forbidden === null);
  const notForVfio = notForVfioRefusal(device);
  const best =
    winner === undefined || notForVfio !== null
      ? null
      : { module: winner.module, driver: driverOfModule(winner.module) };
  return {
    device,
    name,
    matchString: vfioMatchString(device.modalias),
    candidates,
    notForVfio,
    best,
    devicePlugins: devicePluginNote(device.address, best),
    skipped: aliasSet.skipped,
    skippedCount: aliasSet.skippedCount,
    fallback: aliasSet.fallback,
  };
}

export function formatOrigin(origin: AliasOrigin): string {
  return origin.line === undefined ? origin.file : `${origin.file}:${origin.line}`;
}

export function describeSriov(sriov: SriovRole): string {
  switch (sriov.role) {
    case "none":
      return "none";
    case "pf":
      return `physical function, ${sriov.numVfs} of ${sriov.totalVfs} VFs enabled${sriov.vfs.length > 0 ? ` (${sriov.vfs.join(", ")})` : ""}`;
    case "vf":
      return `virtual function of ${sriov.physfn}`;
  }
}

/** The device as JSON: plain fields, ids as lower-case hex strings. */
export function deviceJson(device: PciDevice, name: string | null): Record<string, unknown> {
  return {
    address: device.address,
    vendor: device.vendor,
    device: device.device,
    subsystemVendor: device.subsystemVendor,
    subsystemDevice: device.subsystemDevice,
    class: device.classCode,
    name,
    modalias: device.modalias.text,
    driver: device.driver,
    driverOverride: device.driverOverride,
    iommuGroup: device.iommuGroup,
    iommuGroupPeers: device.iommuGroupPeers,
    sriov: device.sriov,
    headerType: device.headerType,
    headerKind: device.headerKind,
    vfioDev: device.hasVfioDev,
    numaNode: device.numaNode,
    bootVga: device.bootVga,
  };
}

export function explanationJson(explanation: Explanation): Record<string, unknown> {
  return {
    device: deviceJson(explanation.device, explanation.name),
    vfio: explanation.vfio ?? null,
    driverChange: explanation.driverChange ?? null,
    matchString: explanation.matchString,
    candidates: explanation.candidates.map((c) => ({
      rank: c.rank,
      forbidden: c.forbidden === null ? null : { rule: c.forbidden.rule, where: c.forbidden.where },
      module: c.module,
      pattern: c.pattern,
      wildcards: c.wildcards,
      literals: c.literals,
      origin: c.origin,
      belowBecause: c.belowBecause,
      alsoMatched: c.alsoMatched,
    })),
    best: explanation.best,
    devicePlugins: explanation.devicePlugins,
    notForVfio: explanation.notForVfio,
    fallback: explanation.fallback,
    skipped: explanation.skipped.map((s) => ({ ...s.origin, text: s.text, reason: s.reason })),
    skippedCount: explanation.skippedCount,
  };
}
