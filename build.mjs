// Builds the two bundles (packaging/layout.mjs BUNDLES), for Node 18 and later: the CLI,
// dist/vfio-autobind.js (every command, run by /usr/sbin/vfio-autobind), and the udev helper,
// dist/udev-helper.js (one add event, run by the packaged udev rule). Each is one esbuild
// bundle of one entry, run as `node --jitless <file>` (systemd-udevd's sandbox forbids the
// JIT), so it must not need anything outside itself. udev starts the helper once per claimed
// device, and without a JIT every byte compiled at start-up is paid for: that is why the
// helper is a bundle of its own, without yargs, execa or the commands. The output depends on
// nothing but the sources, so the packages still build reproducibly.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { BUNDLES } from "./packaging/layout.mjs";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

/**
 * `import * as fs from "node:fs"` bundled as CommonJS becomes `__toESM(require("node:fs"))`:
 * a fresh object with one getter per property of the module (fs has about a hundred), for
 * each of the twenty-odd modules that import a builtin this way, on every udev event. As
 * `import fs = require("node:fs")` it is the module object itself, with the same members.
 * Only that exact line form is rewritten (prettier keeps every such import in it).
 */
const NAMESPACE_IMPORT_OF_BUILTIN = /^import \* as (\w+) from "(node:[\w/]+)";$/gm;
const builtinsAsRequire = {
  name: "builtins-as-require",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, "utf8").replace(NAMESPACE_IMPORT_OF_BUILTIN, 'import $1 = require("$2");'),
      loader: "ts",
    }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  define: { __VFIO_AUTOBIND_VERSION__: JSON.stringify(version) },
  legalComments: "none",
  // Half the bytes to read and compile on every udev event (node --jitless has no JIT to
  // amortise anything); names are kept so error messages stay readable.
  minify: true,
  keepNames: true,
  // yargs' ES module build brings cliui's ES module build, which wraps help text by
  // cutting words in half; its CommonJS build wraps with wrap-ansi, as yargs does unbundled.
  alias: { cliui: "./node_modules/cliui/build/index.cjs" },
  plugins: [builtinsAsRequire],
  logLevel: "warning",
};

/** Builds `entry` into `outfile`; `extra` adds or overrides esbuild options (the tests and the benchmark). */
export async function buildBundle(entry, outfile, extra = {}) {
  await build({ ...common, entryPoints: [entry], outfile, ...extra });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  mkdirSync("dist", { recursive: true });
  // No #! line: node runs them with its flags (the wrapper, the rule, npm start), never exec.
  await Promise.all(BUNDLES.map(({ entry, dist }) => buildBundle(entry, dist)));
  // The repository's package.json says "type": "module"; the bundles are CommonJS, so dist/
  // carries its own marker (an installed copy has no package.json beside it at all).
  writeFileSync("dist/package.json", '{ "type": "commonjs" }\n');
}
