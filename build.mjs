// Bundles the CLI and the udev entry into ONE file, dist/vfio-autobind.js, for Node 18 and
// later. The file runs as `node --jitless dist/vfio-autobind.js` (systemd-udevd's sandbox
// forbids the JIT), so it must not need anything outside itself.
//
// The file has two parts. udev starts it once per claimed device, and without a JIT every
// byte parsed at start-up is paid for: so the code that runs first is only the udev helper
// (src/udevMain.ts), and the whole program (src/main.ts: yargs, the commands, execa) is in
// the same file as a comment line, which V8 skips far faster than it parses code, compiled
// with vm.runInThisContext only when a command other than `udev-event` runs. The output
// depends on nothing but the sources, so the package still builds reproducibly.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

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
  write: false,
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

/** Starts the line that carries the whole program, the file's last. */
const PROGRAM_MARKER = "//vfio-autobind-program:";

/**
 * One file: `udevEntry`'s bundle as code, then `wholeEntry`'s as a JSON string on a comment
 * line of its own, the file's last. A comment costs the udev part's parse only a scan to its
 * end (a string literal would also be built in the heap); `__vfioAutobindFullProgram()`
 * reads that line back from the file and compiles it when any other command runs.
 * bench/run.mjs builds the simulated kernel's bundle with it too, so the benchmark runs the
 * production file's shape.
 */
export async function bundleWithUdevPart({ udevEntry, wholeEntry, extra = {} }) {
  const text = async (entry) => (await build({ ...common, ...extra, entryPoints: [entry] })).outputFiles[0].text;
  const [fast, whole] = await Promise.all([text(udevEntry), text(wholeEntry)]);
  // The whole program as CommonJS module code, run in this module's scope. Its own
  // "use strict" directive comes first in the wrapper, so it is strict as it is on its own.
  const wrapper = `(function (exports, require, module, __filename, __dirname) {'use strict';${whole}\n})`;
  // JSON escapes \n and \r but not U+2028 and U+2029, which would end the comment line too.
  const line = JSON.stringify(wrapper)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
  const loader =
    "function __vfioAutobindFullProgram() {\n" +
    '  var text = require("node:fs").readFileSync(__filename, "utf8");\n' +
    `  var source = JSON.parse(text.slice(text.lastIndexOf(${JSON.stringify(`\n${PROGRAM_MARKER}`)}) + ${PROGRAM_MARKER.length + 1}));\n` +
    '  require("node:vm").runInThisContext(source, { filename: __filename })(exports, require, module, __filename, __dirname);\n' +
    "}\n";
  return `#!/usr/bin/env -S node --jitless\n'use strict';\n${loader}${fast}\n${PROGRAM_MARKER}${line}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  mkdirSync("dist", { recursive: true });
  writeFileSync(
    "dist/vfio-autobind.js",
    await bundleWithUdevPart({ udevEntry: "src/udevMain.ts", wholeEntry: "src/main.ts" }),
  );
  // The repository's package.json says "type": "module"; the bundle is CommonJS, so dist/
  // carries its own marker (an installed copy has no package.json beside it at all).
  writeFileSync("dist/package.json", '{ "type": "commonjs" }\n');
}
