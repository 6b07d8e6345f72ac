// The copyright file, in Debian's machine-readable format (copyright-format 1.0). The
// bundles are vfio-autobind's own code plus the npm packages esbuild pulled into it, and the
// build drops their license comments (legalComments: "none"), so their notices must travel
// here. Which packages: the production tree of package-lock.json (everything not marked
// dev), i.e. all that the bundles can contain; the list is never kept by hand.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

/**
 * @typedef {object} BundledPackage
 * @property {string} dir           e.g. node_modules/npm-run-path/node_modules/path-key
 * @property {string} name
 * @property {string} version
 * @property {string} license       SPDX id from its package.json
 * @property {string} licenseText   its license file
 * @property {string[]} copyright
 */

/** The installed directories of every production dependency, direct or not. */
export function productionPackageDirs(repoRoot) {
  const lock = JSON.parse(readFileSync(path.join(repoRoot, "package-lock.json"), "utf8"));
  if (lock.packages === undefined)
    throw new Error('package-lock.json has no "packages" map (lockfileVersion 2 or later is needed)');
  return Object.entries(lock.packages)
    .filter(([dir, entry]) => dir !== "" && entry.dev !== true)
    .map(([dir]) => dir)
    .sort();
}

/** @returns {BundledPackage} */
export function readBundledPackage(repoRoot, dir) {
  const full = path.join(repoRoot, dir);
  const manifest = JSON.parse(readFileSync(path.join(full, "package.json"), "utf8"));
  const licenseFile = readdirSync(full).find((f) => /^(licen[cs]e|copying)([-.][\w.-]*)?$/i.test(f));
  if (licenseFile === undefined)
    throw new Error(`${dir}: no license file; its notice cannot go into the copyright file`);
  const licenseText = readFileSync(path.join(full, licenseFile), "utf8");
  let copyright = copyrightLines(licenseText);
  if (copyright.length === 0) copyright = [authorOf(manifest) ?? ""].filter(Boolean);
  if (copyright.length === 0)
    throw new Error(`${dir}: no copyright line in ${licenseFile} and no author in package.json`);
  if (typeof manifest.license !== "string") throw new Error(`${dir}: package.json has no SPDX license`);
  return { dir, name: manifest.name, version: manifest.version, license: manifest.license, licenseText, copyright };
}

/**
 * @param {object} info                 layout.packageInfo()
 * @param {string} ownLicenseText       the repository's LICENSE
 * @param {BundledPackage[]} bundled
 * @param {"deb" | "rpm"} format        Debian points at /usr/share/common-licenses for long
 *                                      licenses; an rpm system has no such directory
 */
export function copyrightFile(info, ownLicenseText, bundled, format) {
  const bundles = `/usr/lib/${info.name}/*.js`;
  const out = [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    `Upstream-Name: ${info.name}`,
    `Comment: ${bundles} are built with esbuild from the ${info.name}`,
    " sources and the npm packages listed below, whose license notices they do",
    " not keep; they are all here.",
    "",
    "Files: *",
    `Copyright: ${copyrightLines(ownLicenseText)[0] ?? info.copyrightHolder}`,
    ...licenseField(info.license, ownLicenseText, format),
  ];
  for (const pkg of bundled) {
    out.push(
      "",
      `Files: ${pkg.dir}/*`,
      `Copyright: ${pkg.copyright[0]}`,
      ...pkg.copyright.slice(1).map((line) => ` ${line}`),
      ...licenseField(pkg.license, pkg.licenseText, format),
      `Comment: ${pkg.name} ${pkg.version}, bundled into ${bundles}`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** Debian's names where they differ from SPDX (the "MIT" license is Expat to Debian). */
const DEBIAN_NAMES = { MIT: "Expat" };
const COMMON_LICENSES = new Set(["Apache-2.0", "GPL-2", "GPL-3", "LGPL-2.1", "LGPL-3", "MPL-2.0"]);

function licenseField(spdx, text, format) {
  const name = DEBIAN_NAMES[spdx] ?? spdx;
  if (format === "deb" && COMMON_LICENSES.has(name)) {
    return [
      `License: ${name}`,
      ` On Debian systems the full text of this license is in`,
      ` /usr/share/common-licenses/${name}.`,
    ];
  }
  return [`License: ${name}`, ...continuation(text)];
}

/** Text as a field continuation: each line indented, blank lines written as " .". */
function continuation(text) {
  const lines = text.replace(/\r/g, "").replace(/\t/g, "    ").trim().split("\n");
  return lines.map((line) => (line.trim() === "" ? " ." : ` ${line.trimEnd()}`));
}

/** "Copyright (c) 2015, Contributors" → "2015, Contributors". */
function copyrightLines(text) {
  return text
    .split("\n")
    .filter((line) => /^\s*Copyright\b/.test(line) && !/copyright notice/i.test(line))
    .map((line) =>
      line
        .trim()
        .replace(/^Copyright\s*(\((c|C)\)|©)?\s*/, "")
        .trim(),
    )
    .filter(Boolean);
}

function authorOf(manifest) {
  const author = manifest.author;
  if (typeof author === "string") return author;
  if (author && typeof author.name === "string") return author.email ? `${author.name} <${author.email}>` : author.name;
  return undefined;
}
