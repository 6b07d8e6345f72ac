/** The cache's building blocks: keys from inputs, entries built once and atomically. */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** A short hash of strings and of the contents of files and directories (recursively, sorted). */
export function hashInputs(...inputs: readonly string[]): string {
  const hash = createHash("sha256");
  for (const input of inputs) {
    hash.update(input);
    hash.update("\0");
    if (fs.existsSync(input)) hashPath(hash, input);
  }
  return hash.digest("hex").slice(0, 16);
}

function hashPath(hash: ReturnType<typeof createHash>, file: string): void {
  const stat = fs.statSync(file);
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(file).sort()) {
      hash.update(`${name}\0`);
      hashPath(hash, path.join(file, name));
    }
  } else hash.update(fs.readFileSync(file));
}

/**
 * Builds `target` once: `build` fills a fresh temporary directory beside it, which is then
 * renamed into place, so an interrupted build never leaves a half-made cache entry.
 * Returns whether it was already there.
 */
export async function cachedDirectory(target: string, build: (dir: string) => Promise<void>): Promise<boolean> {
  if (fs.existsSync(target)) return true;
  const temporary = `${target}.partial-${process.pid}`;
  fs.rmSync(temporary, { recursive: true, force: true });
  fs.mkdirSync(temporary, { recursive: true });
  try {
    await build(temporary);
    fs.renameSync(temporary, target);
  } catch (error) {
    fs.rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
  return false;
}

/** Removes the entries of `dir` other than `keep` (older builds of the same cache layer). */
export function pruneSiblings(dir: string, keep: string): void {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (name !== keep) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}
