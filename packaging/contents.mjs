// The bytes of each installed file: a repository file as it is, or made by a generator.
// Generated files are made once per build and shared by the .deb and the .rpm.
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { bashCompletion } from "./generate/bashCompletion.mjs";
import { debianChangelog } from "./generate/changelog.mjs";
import { copyrightFile, productionPackageDirs, readBundledPackage } from "./generate/copyright.mjs";
import { collectHelp, runBundle } from "./generate/helpText.mjs";
import { manPage } from "./generate/manPage.mjs";
import { NAME, programFiles } from "./layout.mjs";

/** Maximum compression and no name or time stamp in the header: what `gzip -9n` writes,
 * which Debian policy asks for in man pages and changelogs (and keeps builds reproducible). */
const gzip9n = (text) => gzipSync(Buffer.from(text), { level: 9 });

/**
 * @param {object} build
 * @param {string} build.repoRoot
 * @param {string} build.bundle     the built dist/vfio-autobind.js
 * @param {ReturnType<typeof import("./layout.mjs").packageInfo>} build.info
 * @param {import("./layout.mjs").InstalledFile[]} build.allFiles
 * @param {Date} build.date
 * @returns {(file: import("./layout.mjs").InstalledFile, format: "deb" | "rpm") => Buffer}
 */
export function contentsFor(build) {
  const cache = new Map();
  const once = (key, make) => {
    if (!cache.has(key)) cache.set(key, make());
    return cache.get(key);
  };
  const generators = {
    bundle: () => once("bundle", () => Buffer.from(installedBundle(readFileSync(build.bundle, "utf8"), build.info))),
    manPage: () => once("manPage", () => gzip9n(makeManPage(build))),
    bashCompletion: () =>
      once("bashCompletion", () =>
        Buffer.from(bashCompletion(runBundle(build.bundle, ["completion"]), `/usr/sbin/${NAME}`)),
      ),
    copyright: (format) => once(`copyright-${format}`, () => Buffer.from(makeCopyright(build, format))),
    debianChangelog: () => once("debianChangelog", () => gzip9n(debianChangelog(build.info, build.date))),
  };
  return (file, format) => {
    if ("file" in file.from) return readFileSync(path.resolve(build.repoRoot, file.from.file));
    const generate = generators[file.from.generate];
    if (generate === undefined) throw new Error(`${file.path}: unknown generator ${file.from.generate}`);
    return generate(format);
  };
}

/**
 * The bundle as installed. Its "#!/usr/bin/env -S node --jitless" line goes: the wrapper
 * and the udev rule run it with node and the right flags, nothing executes the file itself,
 * and lintian and rpmlint would want a file with #! to be executable and object to env -S.
 * A comment takes the line's place, so line numbers in stack traces stay the same.
 */
function installedBundle(text, info) {
  if (!text.startsWith("#!")) return text;
  const comment = `// ${info.name} ${info.version}; run by /usr/sbin/${info.name} and the udev rule, with node --jitless.`;
  return comment + text.slice(text.indexOf("\n"));
}

function makeManPage(build) {
  const rules = build.allFiles.filter((file) => file.describe !== undefined);
  const files = [
    { path: `${programFiles.configDir.path}/`, describe: programFiles.configDir.describe },
    ...rules.map((file) => ({ path: file.path, describe: file.describe })),
    programFiles.claimsRule,
    programFiles.holdScript,
    programFiles.initramfsStamps,
    { path: `${programFiles.stateDir.path}/`, describe: programFiles.stateDir.describe },
    programFiles.kernelLog,
  ];
  return manPage(collectHelp(build.bundle), {
    name: NAME,
    version: build.info.version,
    date: build.date,
    files,
    seeAlso: ["udevadm(8)", "modprobe(8)", "flock(1)", "lspci(8)", "journalctl(1)", "dmesg(1)"],
  });
}

function makeCopyright(build, format) {
  const bundled = productionPackageDirs(build.repoRoot).map((dir) => readBundledPackage(build.repoRoot, dir));
  return copyrightFile(build.info, readFileSync(path.join(build.repoRoot, "LICENSE"), "utf8"), bundled, format);
}
