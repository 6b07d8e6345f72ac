// Bundles the CLI and the udev entry into ONE file, dist/vfio-autobind.js, for Node 18 and
// later. The file runs as `node --jitless dist/vfio-autobind.js` (systemd-udevd's sandbox
// forbids the JIT), so it must not need anything outside itself.
//
// udev starts the file once per claimed device, and without a JIT every byte compiled at
// start-up is paid for: so the code that runs first only finds the udev helper
// (src/udevMain.ts); the helper (src/udevProgram.ts) is on a comment line, compiled with a
// V8 code cache, and the whole program (src/main.ts: yargs, the commands, execa) is on
// another, which V8 skips far faster than it parses code, compiled only when a command other
// than `udev-event` runs (bundleWithUdevPart below). The output depends on nothing but the
// sources, so the package still builds reproducibly.
import { build } from "esbuild";
import { createHash } from "node:crypto";
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

/** Start the lines that carry the udev helper and the whole program, the file's last two. */
const UDEV_MARKER = "//vfio-autobind-udev:";
const PROGRAM_MARKER = "//vfio-autobind-program:";

/** CommonJS module code as a JSON string for a comment line, in the wrapper Node's own loader uses. */
function commentLine(marker, code) {
  // Its own "use strict" directive comes first in the wrapper, so it is strict as it is alone.
  const wrapper = `(function (exports, require, module, __filename, __dirname) {'use strict';${code}\n})`;
  // JSON escapes \n and \r but not U+2028 and U+2029, which would end the comment line too.
  const json = JSON.stringify(wrapper)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
  return { wrapper, line: `${marker}${json}` };
}

/** The JSON string on the line that starts with `marker`, read back from the running file. */
const readLine = (marker) =>
  `JSON.parse(text.slice(text.lastIndexOf(${JSON.stringify(`\n${marker}`)}) + ${marker.length + 1}, text.indexOf("\\n", text.lastIndexOf(${JSON.stringify(`\n${marker}`)}) + 1)))`;

/**
 * One file, three parts:
 * - `udevEntry`'s bundle as code: all that an udev event parses as it starts (src/udevMain.ts);
 * - `udevProgram`'s bundle as a JSON string on a comment line: the udev helper, which the entry
 *   compiles with a V8 code cache (src/entry/codeCache.ts) through
 *   `__vfioAutobindUdevProgram()`, which returns it with its key (a hash of its text: V8
 *   itself checks only a cache's length against the source);
 * - `wholeEntry`'s bundle the same way on the last line, compiled without a cache by
 *   `__vfioAutobindFullProgram()` when any other command runs.
 * A comment costs the entry's parse only a scan to its end (a string literal would also be
 * built in the heap). bench/run.mjs builds the simulated kernel's bundle with this too, so
 * the benchmark runs the production file's shape.
 */
export async function bundleWithUdevPart({ udevEntry, udevProgram, wholeEntry, extra = {} }) {
  const text = async (entry) => (await build({ ...common, ...extra, entryPoints: [entry] })).outputFiles[0].text;
  const [entry, udev, whole] = await Promise.all([text(udevEntry), text(udevProgram), text(wholeEntry)]);
  const udevLine = commentLine(UDEV_MARKER, udev);
  const wholeLine = commentLine(PROGRAM_MARKER, whole);
  const key = createHash("sha256").update(udevLine.wrapper).digest("hex").slice(0, 16);
  // The udev line is read by its place in the file, not by reading the whole file again
  // (the whole program is most of its bytes). The place is counted from the file's end: the
  // packages rewrite the first line (packaging/contents.mjs). Where the line is not there
  // (a file edited by hand), the whole file is read and searched, as the full program is.
  const tail = `${udevLine.line}\n${wholeLine.line}\n`;
  const loader =
    "function __vfioAutobindFullProgram() {\n" +
    '  var text = require("node:fs").readFileSync(__filename, "utf8");\n' +
    `  require("node:vm").runInThisContext(${readLine(PROGRAM_MARKER)}, { filename: __filename })(exports, require, module, __filename, __dirname);\n` +
    "}\n" +
    "function __vfioAutobindUdevProgram() {\n" +
    `  var fs = require("node:fs"), fd = fs.openSync(__filename, "r"), bytes = Buffer.alloc(${Buffer.byteLength(udevLine.line)}), source;\n` +
    `  try { fs.readSync(fd, bytes, 0, bytes.length, fs.fstatSync(fd).size - ${Buffer.byteLength(tail)}); } finally { fs.closeSync(fd); }\n` +
    `  if (bytes.toString("latin1", 0, ${UDEV_MARKER.length}) === ${JSON.stringify(UDEV_MARKER)}) source = JSON.parse(bytes.toString("utf8", ${UDEV_MARKER.length}));\n` +
    `  else { var text = fs.readFileSync(__filename, "utf8"); source = ${readLine(UDEV_MARKER)}; }\n` +
    `  return { source: source, key: ${JSON.stringify(key)}, filename: __filename, require: require };\n` +
    "}\n";
  return `#!/usr/bin/env -S node --jitless\n'use strict';\n${loader}${entry}\n${tail}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  mkdirSync("dist", { recursive: true });
  writeFileSync(
    "dist/vfio-autobind.js",
    await bundleWithUdevPart({
      udevEntry: "src/udevMain.ts",
      udevProgram: "src/udevProgram.ts",
      wholeEntry: "src/main.ts",
    }),
  );
  // The repository's package.json says "type": "module"; the bundle is CommonJS, so dist/
  // carries its own marker (an installed copy has no package.json beside it at all).
  writeFileSync("dist/package.json", '{ "type": "commonjs" }\n');
}
