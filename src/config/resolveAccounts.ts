/**
 * Looks up the users and groups Owner= names as udevd does, through NSS: `getent passwd
 * NAME` and `getent group NAME` (execa), so LDAP, sssd and systemd-userdb accounts count,
 * and /etc/passwd alone would not. login.defs under a root gives the system ranges.
 */
import { FileError, readOptionalRegularFile } from "../files/safeFiles.js";
import { accountPaths } from "../paths.js";
import { loadExeca } from "../process/lazyExeca.js";
import {
  DEFAULT_SYSTEM_RANGES,
  idOfGetentLine,
  ownerNames,
  parseLoginDefs,
  type AccountLookup,
  type ResolvedAccounts,
  type SystemRanges,
} from "./accounts.js";
import type { Claim } from "./claimConfig.js";

/** A directory service can be slow; a lookup that takes longer than this is reported, not waited for. */
const GETENT_TIMEOUT_MS = 10_000;
/** getent's exit status for a key that is not in the database. */
const GETENT_NOT_FOUND = 2;

/** What getent says of one name in one database. */
async function lookup(getent: string, database: "passwd" | "group", name: string): Promise<AccountLookup> {
  const execa = await loadExeca();
  const result = await execa(getent, [database, name], {
    reject: false,
    timeout: GETENT_TIMEOUT_MS,
    stdin: "ignore",
  });
  if (result.exitCode === GETENT_NOT_FOUND) return null;
  if (result.exitCode !== 0) {
    const detail = result.stderr.trim().split("\n").pop() || result.shortMessage;
    return { problem: `getent ${database} failed (${detail})` };
  }
  const id = idOfGetentLine(result.stdout.split("\n")[0] ?? "");
  return id ?? { problem: `getent ${database} gave no ${database === "passwd" ? "uid" : "gid"}` };
}

/** login.defs' system ranges; its defaults when it is missing or not a file to read. */
function systemRanges(accountsRoot: string): SystemRanges {
  try {
    const text = readOptionalRegularFile(accountPaths(accountsRoot).loginDefs, { maxBytes: 1024 * 1024 });
    return text === null ? DEFAULT_SYSTEM_RANGES : parseLoginDefs(text);
  } catch (error) {
    if (error instanceof FileError) return DEFAULT_SYSTEM_RANGES;
    throw error;
  }
}

export async function resolveAccounts(
  claims: readonly Claim[],
  options: { getent: string; accountsRoot: string },
): Promise<ResolvedAccounts> {
  const names = ownerNames(claims);
  const all = async (database: "passwd" | "group", list: string[]) =>
    new Map(await Promise.all(list.map(async (name) => [name, await lookup(options.getent, database, name)] as const)));
  return {
    users: await all("passwd", names.users),
    groups: await all("group", names.groups),
    ranges: systemRanges(options.accountsRoot),
  };
}
