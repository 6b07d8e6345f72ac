/**
 * The shells an initramfs runs the hold script with, by absolute path (the script runs with
 * a PATH that finds nothing): dash, Debian's /bin/sh, and busybox sh (scripts/testShells.mjs;
 * npm test's pretest unpacks it).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { TEST_BUSYBOX } from "../../scripts/testShells.mjs";

export interface InitramfsShell {
  /** "dash" or "busybox sh", for test names. */
  readonly name: string;
  /** The command line that runs a script: the script and its arguments follow. */
  readonly argv: readonly string[];
}

export function initramfsShells(): readonly InitramfsShell[] {
  const dash = spawnSync("sh", ["-c", "command -v dash"], { encoding: "utf8" });
  if (dash.status !== 0)
    throw new Error("dash is missing: it is Debian's /bin/sh, which the initramfs runs the script with");
  if (!fs.existsSync(TEST_BUSYBOX))
    throw new Error(`${TEST_BUSYBOX} is missing: run node scripts/fetch-busybox.mjs (npm test's pretest does)`);
  return [
    { name: "dash", argv: [dash.stdout.trim()] },
    { name: "busybox sh", argv: [TEST_BUSYBOX, "sh"] },
  ];
}
