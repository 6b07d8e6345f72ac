/** Builds support/simulatedCli.ts into one file, the way build.mjs builds the real bundle. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "esbuild";

export async function buildSimulatedBundle(): Promise<{ file: string; cleanup(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-simcli-"));
  const file = path.join(dir, "simulated-cli.cjs");
  await build({
    entryPoints: [path.resolve(__dirname, "../../support/simulatedCli.ts")],
    outfile: file,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    logLevel: "error",
  });
  return { file, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface BundleParts {
  readonly udevEntry: string;
  readonly udevProgram: string;
  readonly wholeEntry: string;
  readonly extra?: object;
}

/** build.mjs's bundleWithUdevPart, typed (build.mjs is plain JavaScript without declarations). */
export async function loadBundleWithUdevPart(): Promise<(parts: BundleParts) => Promise<string>> {
  // @ts-expect-error build.mjs is plain JavaScript without declarations
  const build = (await import("../../build.mjs")) as { bundleWithUdevPart: (parts: BundleParts) => Promise<string> };
  return build.bundleWithUdevPart;
}

/**
 * The simulated kernel's bundle in the production file's shape (build.mjs's
 * bundleWithUdevPart: the same entry, the helper compiled with its code cache), as the
 * benchmark builds it: the production file minus the real kernel.
 */
export async function buildSimulatedProductionBundle(): Promise<{ file: string; cleanup(): void }> {
  const repo = path.resolve(__dirname, "../..");
  const bundleWithUdevPart = await loadBundleWithUdevPart();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-simprod-"));
  const file = path.join(dir, "simulated.js");
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "commonjs" }\n');
  fs.writeFileSync(
    file,
    await bundleWithUdevPart({
      udevEntry: path.join(repo, "src/udevMain.ts"),
      udevProgram: path.join(repo, "support/simulatedUdevProgram.ts"),
      wholeEntry: path.join(repo, "support/simulatedCli.ts"),
      extra: { absWorkingDir: repo },
    }),
  );
  return { file, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
