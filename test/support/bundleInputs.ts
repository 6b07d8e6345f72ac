/**
 * The files esbuild pulls into a bundle of one entry point, found on their own (no output
 * written, no bundle read back), for tests of what the shipped bundle may contain.
 */
import * as path from "node:path";
import { build } from "esbuild";

const REPO = path.resolve(__dirname, "../..");

/** Paths relative to the repository (`src/...`, `node_modules/yargs/...`). */
export async function bundleInputs(entry: string): Promise<string[]> {
  const { metafile } = await build({
    entryPoints: [path.join(REPO, entry)],
    absWorkingDir: REPO,
    bundle: true,
    platform: "node",
    format: "cjs",
    write: false,
    metafile: true,
    logLevel: "silent",
    // Inputs named as this checkout names them, also where node_modules is a symlink (a git
    // worktree sharing another checkout's), as the copyright file names them.
    preserveSymlinks: true,
  });
  return Object.keys(metafile.inputs);
}
