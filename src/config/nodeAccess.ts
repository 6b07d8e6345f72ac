/**
 * What `Owner=` and `Mode=` of a claim may be, for the parser, `claim --owner/--mode` and
 * the generated rules read back: strict patterns, so every value is a safe udev value as
 * it is, and the one rule on a mode's bits. Pure.
 */

/** `Owner=USER[:GROUP]`: names or numbers, each proven by a strict pattern. */
export interface NodeOwner {
  readonly user: string;
  readonly group: string | null;
}

/**
 * A user or group as `Owner=` takes it: a name as useradd allows one (no `$`, no dot
 * first, at most 32 characters) or a number. Either is a safe udev value as it is.
 */
const ACCOUNT_NAME = /^(?:[A-Za-z_][A-Za-z0-9_-]{0,31}|[0-9]{1,10})$/;
const MODE = /^0?[0-7]{3}$/;

export const isAccountName = (text: string): boolean => ACCOUNT_NAME.test(text);

/** `USER` or `USER:GROUP`, or null. */
export function parseOwner(text: string): NodeOwner | null {
  const [user, group, ...rest] = text.split(":");
  if (user === undefined || !ACCOUNT_NAME.test(user) || rest.length > 0) return null;
  if (group === undefined) return { user, group: null };
  return ACCOUNT_NAME.test(group) ? { user, group } : null;
}

/** `660` or `0660` as the four octal digits udev writes, or null. */
export function parseMode(text: string): string | null {
  return MODE.test(text) ? text.padStart(4, "0") : null;
}

/** A mode exactly as the generated rules write it (`0660`) and as a claim may give it. */
export const isNodeMode = (text: string): boolean => parseMode(text) === text && modeRefusal(text) === null;

/**
 * Why a parsed mode is refused, or null: any bit for others. Whoever opens a VFIO node
 * drives the device, and the device's DMA reaches whatever memory its IOMMU mapping
 * allows, so a node open to every local user is the host's memory open to every local user.
 */
export function modeRefusal(mode: string): string | null {
  if (mode.endsWith("0")) return null;
  return "a bit for others opens the device's VFIO nodes to every local user, and whoever opens one drives the device and its DMA into host memory; use 0660 or 0600, owned by the VMM's user or a group it is in";
}
