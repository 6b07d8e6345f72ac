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
