// The bytes of each installed file: a repository file as it is, or made by a generator.
// Generated files are made once per build and shared by the .deb and the .rpm.
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { bashCompletion } from "./generate/bashCompletion.mjs";
import { debianChangelog } from "./generate/changelog.mjs";
import { copyrightFile, productionPackageDirs, readBundledPackage } from "./generate/copyright.mjs";
import { collectHelp, runBundle } from "./generate/helpText.mjs";
import { manFiles } from "./generate/manFiles.mjs";
import { manPage } from "./generate/manPage.mjs";
import { fillPaths, NAME, PROGRAM_PATHS } from "./layout.mjs";

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
    manPage: () => once("manPage", () => gzip9n(makeManPage(build))),
    confManPage: () => once("confManPage", () => gzip9n(makeConfManPage(build))),
    bashCompletion: () =>
      once("bashCompletion", () =>
        Buffer.from(bashCompletion(runBundle(build.bundle, ["completion"]), `/usr/sbin/${NAME}`)),
      ),
    copyright: (format) => once(`copyright-${format}`, () => Buffer.from(makeCopyright(build, format))),
    debianChangelog: () => once("debianChangelog", () => gzip9n(debianChangelog(build.info, build.date))),
  };
  return (file, format) => {
    if ("file" in file.from) {
      const bytes = readFileSync(path.resolve(build.repoRoot, file.from.file));
      return file.from.fill === true ? Buffer.from(fillPaths(bytes.toString("utf8"), file.from.file)) : bytes;
    }
    const generate = generators[file.from.generate];
    if (generate === undefined) throw new Error(`${file.path}: unknown generator ${file.from.generate}`);
    return generate(format);
  };
}

export function makeManPage(build) {
  const packaged = build.allFiles
    .filter((file) => file.describe !== undefined)
    .map((file) => ({ path: file.path, describe: file.describe }));
  return manPage(collectHelp(build.bundle), {
    name: NAME,
    version: build.info.version,
    date: build.date,
    files: manFiles(PROGRAM_PATHS, packaged),
    seeAlso: [
      `${NAME}.conf(5)`,
      "udevadm(8)",
      "modprobe(8)",
      "flock(1)",
      "lspci(8)",
      "journalctl(1)",
      "dmesg(1)",
      "update-initramfs(8)",
      "dracut(8)",
    ],
    written: readFileSync(path.join(build.repoRoot, "man", `${NAME}.8.roff`), "utf8"),
  });
}

/** vfio-autobind.conf(5), written by hand; the package's date and version go into its header. */
export function makeConfManPage(build) {
  const text = readFileSync(path.join(build.repoRoot, "man", `${NAME}.conf.5`), "utf8");
  return confManPage(text, { version: build.info.version, date: build.date });
}

/** The conf page with its @DATE@ and @VERSION@ filled in, roff-escaped. */
export function confManPage(text, { version, date }) {
  if (!text.includes("@DATE@") || !text.includes("@VERSION@"))
    throw new Error(`man/${NAME}.conf.5 must carry @DATE@ and @VERSION@ in its .TH line`);
  return text
    .replaceAll("@DATE@", date.toISOString().slice(0, 10))
    .replaceAll("@VERSION@", version.replace(/-/g, "\\-"));
}

function makeCopyright(build, format) {
  const bundled = productionPackageDirs(build.repoRoot).map((dir) => readBundledPackage(build.repoRoot, dir));
  return copyrightFile(build.info, readFileSync(path.join(build.repoRoot, "LICENSE"), "utf8"), bundled, format);
}
