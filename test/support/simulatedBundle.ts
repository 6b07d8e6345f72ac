/**
 * The simulated kernel's bundles (support/simulatedCli.ts, support/simulatedUdevHelper.ts),
 * built with build.mjs's own options, as the benchmark builds them: the production bundles
 * minus the real kernel, so many processes can bind devices of one fake tree at once.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");

type BuildBundle = (entry: string, outfile: string, extra?: object) => Promise<void>;

/** build.mjs's buildBundle, typed (build.mjs is plain JavaScript without declarations). */
export async function loadBuildBundle(): Promise<BuildBundle> {
  // @ts-expect-error build.mjs is plain JavaScript without declarations
  const build = (await import("../../build.mjs")) as { buildBundle: BuildBundle };
  return build.buildBundle;
}

async function buildSimulated(entry: string, name: string): Promise<{ file: string; cleanup(): void }> {
  const buildBundle = await loadBuildBundle();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-simulated-"));
  const file = path.join(dir, name);
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "commonjs" }\n');
  await buildBundle(path.join(REPO, entry), file, { absWorkingDir: REPO });
  return { file, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The CLI over the simulated kernel. */
export const buildSimulatedBundle = (): Promise<{ file: string; cleanup(): void }> =>
  buildSimulated("support/simulatedCli.ts", "simulated-cli.js");

/** The udev helper over the simulated kernel. */
export const buildSimulatedHelperBundle = (): Promise<{ file: string; cleanup(): void }> =>
  buildSimulated("support/simulatedUdevHelper.ts", "simulated-udev-helper.js");
