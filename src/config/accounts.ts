/**
 * The users and groups Owner= may name, from `etc/passwd` and `etc/group` under a root
 * (`/`, or a test tree). udev resolves OWNER= and GROUP= names when it loads its rules and
 * ignores a name it cannot resolve, so a missing one is a config error at `check` time
 * rather than a node left root-only without a word. Numbers need no lookup.
 */
import { accountPaths } from "../paths.js";
import { readOptionalRegularFile } from "../files/safeFiles.js";
import type { Claim, ConfigError } from "./claimConfig.js";

export interface Accounts {
  readonly users: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
}

/** Account files are small; a huge one (a directory service dump) is still bounded. */
const MAX_ACCOUNT_FILE_BYTES = 16 * 1024 * 1024;

/** The first field of every line of a passwd or group file. Pure. */
export function accountNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const name = line.slice(0, line.indexOf(":"));
    if (line.includes(":") && name !== "" && !name.startsWith("#")) names.add(name);
  }
  return names;
}

export function readAccounts(accountsRoot: string): Accounts {
  const files = accountPaths(accountsRoot);
  const read = (file: string): Set<string> =>
    accountNames(readOptionalRegularFile(file, { maxBytes: MAX_ACCOUNT_FILE_BYTES }) ?? "");
  return { users: read(files.passwd), groups: read(files.group) };
}

const NUMBER = /^[0-9]+$/;

/** Owner= names that do not exist, as config errors at the claim's Owner= line. Pure. */
export function unknownAccountErrors(claims: readonly Claim[], accounts: Accounts): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const claim of claims) {
    if (claim.owner === null) continue;
    const at = { file: claim.origin.file, line: claim.ownershipLine };
    const { user, group } = claim.owner;
    if (!NUMBER.test(user) && !accounts.users.has(user)) {
      errors.push({ ...at, message: `Owner=: no user ${user} on this system (etc/passwd); udev would ignore it` });
    }
    if (group !== null && !NUMBER.test(group) && !accounts.groups.has(group)) {
      errors.push({ ...at, message: `Owner=: no group ${group} on this system (etc/group); udev would ignore it` });
    }
  }
  return errors;
}
