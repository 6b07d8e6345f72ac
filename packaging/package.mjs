// npm run package: builds dist/vfio-autobind_<version>_all.deb and
// dist/vfio-autobind-<version>-<release>.noarch.rpm from the bundle that `npm run build`
// made, the rules in rules.d/ and the docs, as layout.mjs lays them out.
//
//   node packaging/package.mjs [--out DIR] [--rules-dir DIR]
//
// --out puts the packages elsewhere (tests use a temporary directory); --rules-dir packages
// the *.rules of another directory instead of rules.d/.
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildDeb } from "./buildDeb.mjs";
import { buildRpm } from "./buildRpm.mjs";
import { contentsFor } from "./contents.mjs";
import { runBundle } from "./generate/helpText.mjs";
import { installedFiles, packageInfo } from "./layout.mjs";
import { requireTools } from "./requireTools.mjs";
import { sourceDateEpoch } from "./sourceDate.mjs";

const repoRoot = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
const { values } = parseArgs({
  options: { out: { type: "string" }, "rules-dir": { type: "string" } },
  strict: true,
});
const outDir = path.resolve(values.out ?? path.join(repoRoot, "dist"));
const rulesDir = path.resolve(values["rules-dir"] ?? path.join(repoRoot, "rules.d"));

try {
  requireTools(["dpkg-deb", "rpmbuild"]);
  const info = packageInfo(repoRoot);
  const bundle = path.join(repoRoot, "dist", "vfio-autobind.js");
  assertBundleVersion(bundle, info.version);
  const epoch = sourceDateEpoch(repoRoot);
  const date = new Date(epoch * 1000);
  const allFiles = installedFiles(repoRoot, { rulesDir });
  const contentOf = contentsFor({ repoRoot, bundle, info, allFiles, date });

  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-package-"));
  try {
    const build = { allFiles, info, contentOf, epoch, date, workDir, outDir };
    for (const built of [buildDeb(build), buildRpm(build)]) console.log(built);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
} catch (error) {
  console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}

/** The bundle carries the version it was built with; a stale one must not be packaged
 * under a newer version number. */
function assertBundleVersion(bundle, version) {
  let built;
  try {
    built = runBundle(bundle, ["--version"]).trim();
  } catch (error) {
    throw new Error(
      `cannot run ${bundle} (${error instanceof Error ? error.message.split("\n")[0] : error}); run npm run build first`,
    );
  }
  if (built !== version)
    throw new Error(`${bundle} says version ${built} but package.json says ${version}; run npm run build first`);
}
