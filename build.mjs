// Bundles the CLI and the udev entry into ONE file, dist/vfio-autobind.js, for Node 18 and
// later. The file runs as `node --jitless dist/vfio-autobind.js` (systemd-udevd's sandbox
// forbids the JIT), so it must not need anything outside itself.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/vfio-autobind.js",
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  // Runs as a plain .js file wherever it is installed (no package.json beside it).
  banner: { js: "#!/usr/bin/env -S node --jitless\n'use strict';" },
  define: { __VFIO_AUTOBIND_VERSION__: JSON.stringify(version) },
  legalComments: "none",
  // Half the bytes to read and compile on every udev event (node --jitless has no JIT to
  // amortise anything); names are kept so error messages stay readable.
  minify: true,
  keepNames: true,
  // yargs' ES module build brings cliui's ES module build, which wraps help text by
  // cutting words in half; its CommonJS build wraps with wrap-ansi, as yargs does unbundled.
  alias: { cliui: "./node_modules/cliui/build/index.cjs" },
  logLevel: "warning",
});

// The repository's package.json says "type": "module"; the bundle is CommonJS, so dist/
// carries its own marker (an installed copy has no package.json beside it at all).
writeFileSync("dist/package.json", '{ "type": "commonjs" }\n');
