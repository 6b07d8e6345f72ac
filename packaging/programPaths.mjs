// The program's own paths (src/paths.ts), compiled from TypeScript with esbuild and loaded,
// so that the packaging states none of them again: the maintainer scripts, the boot files
// and the man page's FILES section all take them from here.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const REPO_ROOT = path.resolve(fileURLToPath(new URL("..", import.meta.url)));

/** src/paths.ts (and the two other modules that name files the man page lists), loaded. */
export function loadProgramPaths() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-paths-"));
  try {
    const outfile = path.join(dir, "paths.cjs");
    buildSync({
      stdin: {
        contents: [
          'export * from "./src/paths.ts";',
          'export { PCI_IDS_PATHS } from "./src/pciids/readPciIds.ts";',
          'export { HOLD_SWITCH } from "./src/policy/hold.ts";',
        ].join("\n"),
        resolveDir: REPO_ROOT,
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "cjs",
      outfile,
      logLevel: "warning",
    });
    return createRequire(import.meta.url)(outfile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
