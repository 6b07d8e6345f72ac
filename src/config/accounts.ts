/**
 * Whether the users and groups Owner= names will work in udev's rules, decided from what
 * NSS says of them (`getent`, as udevd resolves them) and login.defs' system ranges. Pure:
 * src/config/resolveAccounts.ts does the lookups.
 *
 * udevd resolves OWNER= and GROUP= when it loads its rules. A name it cannot resolve is
 * ignored. From systemd 258 on it also refuses accounts outside the system range: 258 and
 * 259 ignore OWNER=/GROUP= naming one and drop the whole rule line (its MODE= too), 260
 * and later accept it with a deprecation warning. Either way the node would not be what
 * the claim says, so both are config errors at the Owner= line. An owner may also change
 * the node's mode and ACLs, which is why systemd keeps ownership to system accounts.
 */
import type { Claim, ConfigError } from "./claimConfig.js";

/** The highest system uid and gid: login.defs' SYS_UID_MAX and SYS_GID_MAX. */
export interface SystemRanges {
  readonly uidMax: number;
  readonly gidMax: number;
}

/** shadow's and systemd's default when login.defs says nothing. */
export const DEFAULT_SYSTEM_RANGES: SystemRanges = { uidMax: 999, gidMax: 999 };

/** SYS_UID_MAX and SYS_GID_MAX from a login.defs text; each missing one keeps its default. */
export function parseLoginDefs(text: string): SystemRanges {
  const value = (key: string, fallback: number): number => {
    const m = new RegExp(`^\\s*${key}\\s+([0-9]{1,10})\\s*$`, "m").exec(text);
    return m === null ? fallback : Number(m[1]);
  };
  return {
    uidMax: value("SYS_UID_MAX", DEFAULT_SYSTEM_RANGES.uidMax),
    gidMax: value("SYS_GID_MAX", DEFAULT_SYSTEM_RANGES.gidMax),
  };
}

/** What a lookup found: the id, none (null), or why it could not be asked. */
export type AccountLookup = number | null | { readonly problem: string };

/** The id in a `getent passwd` or `getent group` line (its third field), or null. */
export function idOfGetentLine(line: string): number | null {
  const id = line.split(":")[2];
  return id !== undefined && /^[0-9]{1,10}$/.test(id) ? Number(id) : null;
}

export interface ResolvedAccounts {
  readonly users: ReadonlyMap<string, AccountLookup>;
  readonly groups: ReadonlyMap<string, AccountLookup>;
  readonly ranges: SystemRanges;
}

const NUMBER = /^[0-9]+$/;

/** The user and group names Owner= gives, to look up; numbers need no lookup. */
export function ownerNames(claims: readonly Claim[]): { users: string[]; groups: string[] } {
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const { owner } of claims) {
    if (owner === null) continue;
    if (!NUMBER.test(owner.user)) users.add(owner.user);
    if (owner.group !== null && !NUMBER.test(owner.group)) groups.add(owner.group);
  }
  return { users: [...users], groups: [...groups] };
}

const KINDS = {
  user: { database: "passwd", id: "uid", max: "SYS_UID_MAX", make: "useradd --system" },
  group: { database: "group", id: "gid", max: "SYS_GID_MAX", make: "groupadd --system" },
} as const;

/** Why udev would not give a node this user or group, or null. */
function accountProblem(
  kind: keyof typeof KINDS,
  name: string,
  lookup: AccountLookup | undefined,
  max: number,
): string | null {
  const k = KINDS[kind];
  const id = NUMBER.test(name) ? Number(name) : lookup;
  if (id === undefined || id === null)
    return `no ${kind} ${name} on this system (getent ${k.database} ${name} finds none); udev would ignore it`;
  if (typeof id !== "number") return `cannot look up ${kind} ${name}: ${id.problem}`;
  if (id <= max) return null;
  const shown = NUMBER.test(name) ? `${kind} ${name}` : `${kind} ${name} (${k.id} ${id})`;
  return (
    `${shown} is not a system ${kind} (${k.max} is ${max}): systemd 258 and 259 ignore ${kind === "user" ? "OWNER=" : "GROUP="} naming one and drop the whole rule line, ` +
    `so the nodes keep udev's default owner and mode; 260 and later take it with a deprecation warning. ` +
    `Give a system ${kind} (${k.make}), or Owner=root:GROUP with a system group the VMM's user belongs to, and Mode=0660`
  );
}

/** Owner= users and groups udev would not apply, as config errors at the claim's Owner= line. */
export function ownerAccountErrors(claims: readonly Claim[], accounts: ResolvedAccounts): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const claim of claims) {
    if (claim.owner === null) continue;
    const at = { file: claim.origin.file, line: claim.ownershipLine };
    const { user, group } = claim.owner;
    const problems = [
      accountProblem("user", user, accounts.users.get(user), accounts.ranges.uidMax),
      group === null ? null : accountProblem("group", group, accounts.groups.get(group), accounts.ranges.gidMax),
    ];
    for (const problem of problems) if (problem !== null) errors.push({ ...at, message: `Owner=: ${problem}` });
  }
  return errors;
}
