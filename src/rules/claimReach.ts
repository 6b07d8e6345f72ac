/**
 * What a claim's or an exclusion's selectors reach, as udev match conditions. udev matches
 * KERNEL and ATTR{...} values with the same fnmatch globs as claims use, so addresses, ids
 * and classes translate one to one. VfsOf cannot be matched through the `physfn` link in
 * udev, so it becomes the list of addresses the PF's VFs will have (computed from
 * sriov_offset and sriov_stride) plus `TEST=="physfn"`; where that list is unknown, the
 * reach says so. Selectors are checked again against the parser's patterns first.
 */
import { fnmatch } from "../alias/fnmatch.js";
import {
  parseAddressSelector,
  parsePfSelector,
  type IdSelector,
  type Origin,
  type Selectors,
} from "../config/claimConfig.js";
import { RuntimeFailure } from "../errors.js";
import { isSysfsPciName } from "../sysfs/pciAddress.js";
import { quoteForDisplay } from "../text/safeText.js";
import { is, TEST_PATH, where } from "./ruleVocabulary.js";
import { commentText, type RuleToken } from "./udevRuleSyntax.js";

/** The addresses a PF's VFs take (all of them, enabled or not), or null if unknown. */
export type VfAddressesOf = (pf: string) => readonly string[] | null;

// Longer KERNEL and class alternatives are split over several lines: udevd ignores a line
// of 16 KiB or more, which would silently drop a claim.
const KERNEL_VALUE_MAX = 4096;
const HEX4 = /^[0-9a-f]{4}$/;
const CLASS_PREFIX = /^(?:[0-9a-f]{2}){1,3}$/;

/** The parser's patterns, checked again: nothing reaches a rule value unproven. */
function checkSelectors(selectors: Selectors, origin: Origin): void {
  const refuse = (what: string): never => {
    throw new RuntimeFailure(
      `${commentText(where(origin))}: ${what} is not a valid selector; no udev rules were written`,
    );
  };
  for (const a of selectors.addresses) if (parseAddressSelector(a) !== a) refuse(`Address=${quoteForDisplay(a)}`);
  for (const pf of selectors.vfsOf) if (parsePfSelector(pf) !== pf) refuse(`VfsOf=${quoteForDisplay(pf)}`);
  for (const c of selectors.classes) if (!CLASS_PREFIX.test(c)) refuse(`Class=${quoteForDisplay(c)}`);
  for (const id of selectors.ids) {
    const parts = [id.vendor, id.device];
    if (id.subsystemVendor !== undefined || id.subsystemDevice !== undefined)
      parts.push(id.subsystemVendor ?? "", id.subsystemDevice ?? "");
    if (!parts.every((p) => HEX4.test(p))) refuse(`Ids=${quoteForDisplay(parts.join(":"))}`);
  }
}

function idConditions(id: IdSelector): RuleToken[] {
  const conditions = [is("ATTR", `0x${id.vendor}`, "vendor"), is("ATTR", `0x${id.device}`, "device")];
  if (id.subsystemVendor !== undefined && id.subsystemDevice !== undefined) {
    conditions.push(
      is("ATTR", `0x${id.subsystemVendor}`, "subsystem_vendor"),
      is("ATTR", `0x${id.subsystemDevice}`, "subsystem_device"),
    );
  }
  return conditions;
}

function alternatives(values: readonly string[]): string[] {
  const chunks: string[] = [];
  let current = "";
  for (const value of values) {
    if (current !== "" && current.length + 1 + value.length > KERNEL_VALUE_MAX) {
      chunks.push(current);
      current = value;
    } else current = current === "" ? value : `${current}|${value}`;
  }
  if (current !== "") chunks.push(current);
  return chunks;
}

export interface Reach {
  /** Lines of conditions (ORed); empty: can match no device that can exist now. */
  readonly sets: RuleToken[][];
  /** Why the conditions are broader than the selectors (udev cannot tell), or null: exact. */
  readonly unknown: string | null;
}

export function reachOf(selectors: Selectors, origin: Origin, vfAddressesOf: VfAddressesOf): Reach {
  checkSelectors(selectors, origin);
  const common: RuleToken[] = [];
  let kernel: readonly string[] | null = selectors.addresses.length > 0 ? selectors.addresses : null;
  let unknown: string | null = null;
  if (selectors.vfsOf.length > 0) {
    common.push(is("TEST", TEST_PATH.isVf));
    const lists = selectors.vfsOf.map((pf) => ({ pf, vfs: vfAddressesOf(pf) }));
    const missing = lists.filter((l) => l.vfs === null).map((l) => l.pf);
    if (missing.length === 0) {
      let addresses = lists.flatMap((l) => l.vfs as readonly string[]);
      const bad = addresses.find((a) => !isSysfsPciName(a));
      if (bad !== undefined) throw new RuntimeFailure(`unexpected VF address ${quoteForDisplay(bad)} from sysfs`);
      if (selectors.addresses.length > 0)
        addresses = addresses.filter((a) => selectors.addresses.some((glob) => fnmatch(glob, a)));
      if (addresses.length === 0) return { sets: [], unknown: null };
      kernel = addresses;
    } else {
      unknown = `the VF addresses of ${missing.join(", ")} are not known now`;
    }
  }
  const classes = selectors.classes.map((prefix) => `0x${prefix}${"?".repeat(6 - prefix.length)}`);
  const kernelSets = kernel === null ? [[]] : alternatives(kernel).map((value) => [is("KERNEL", value)]);
  const classSets = classes.length === 0 ? [[]] : alternatives(classes).map((value) => [is("ATTR", value, "class")]);
  const idSets = selectors.ids.length === 0 ? [[]] : selectors.ids.map(idConditions);
  return {
    sets: kernelSets.flatMap((k) => classSets.flatMap((c) => idSets.map((ids) => [...k, ...common, ...c, ...ids]))),
    unknown,
  };
}
