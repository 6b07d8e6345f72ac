/** The VFIO nodes as an unprivileged VMM meets them: their ownership, and opening one as a user. */
import * as fs from "node:fs";
import { runCommand, type CommandRun, type GuestLog } from "../guestSystem.js";

export interface NodeStat {
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: string;
}

export function statNode(path: string | null): NodeStat | null {
  if (path === null) return null;
  try {
    const s = fs.statSync(path);
    return { path, uid: s.uid, gid: s.gid, mode: (s.mode & 0o7777).toString(8).padStart(4, "0") };
  } catch {
    return null;
  }
}

/**
 * Opens `node` read-write as `user`, with its own group and exactly `groups` beside it, as
 * an unprivileged VMM would.
 */
export const openNodeAs = (log: GuestLog, node: string, user: string, groups: readonly string[]): CommandRun =>
  runCommand(log, [
    "setpriv",
    `--reuid=${user}`,
    `--regid=${user}`,
    ...(groups.length === 0 ? ["--clear-groups"] : [`--groups=${groups.join(",")}`]),
    process.execPath,
    "-e",
    `require("fs").closeSync(require("fs").openSync(${JSON.stringify(node)}, "r+")); console.log("opened")`,
  ]);
