// Builds dist/vfio-autobind_<version>_all.deb with dpkg-deb from the layout: a staged tree,
// DEBIAN/control, conffiles, md5sums and the maintainer scripts.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { filesFor, MODULE_TRIGGER_PATHS } from "./layout.mjs";
import { debianMaintainerScripts } from "./scriptlets.mjs";
import { stageTree } from "./stageTree.mjs";

/**
 * @param {object} build
 * @param {import("./layout.mjs").InstalledFile[]} build.allFiles  layout.installedFiles()
 * @param {ReturnType<typeof import("./layout.mjs").packageInfo>} build.info
 * @param {(file: import("./layout.mjs").InstalledFile, format: "deb" | "rpm") => Buffer} build.contentOf
 * @param {number} build.epoch     SOURCE_DATE_EPOCH: dpkg-deb clamps file times to it
 * @param {string} build.workDir   scratch space, removed by the caller
 * @param {string} build.outDir
 * @returns {string} the .deb's path
 */
export function buildDeb({ allFiles, info, contentOf, epoch, workDir, outDir }) {
  const files = filesFor("deb", allFiles);
  const root = path.join(workDir, "deb");
  stageTree(root, files, (file) => contentOf(file, "deb"));

  const control = path.join(root, "DEBIAN");
  mkdirSync(control, { recursive: true });
  chmodSync(control, 0o755);
  const write = (name, text, mode) => {
    writeFileSync(path.join(control, name), text);
    chmodSync(path.join(control, name), mode);
  };
  write("control", controlFile(info, installedSizeKiB(root, files)), 0o644);
  const conffiles = files.filter((file) => file.conffile).map((file) => file.path);
  if (conffiles.length > 0) write("conffiles", `${conffiles.join("\n")}\n`, 0o644);
  write("md5sums", md5sums(root, files), 0o644);
  for (const [name, text] of Object.entries(debianMaintainerScripts())) write(name, text, 0o755);
  write("triggers", debianTriggers(), 0o644);

  const deb = path.join(outDir, `${info.name}_${info.version}_all.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", root, deb], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return deb;
}

/**
 * File triggers on the module directories: postinst runs as "triggered" once at the end of
 * the dpkg run that installed or removed modules there. noawait: the packages that fired
 * it are configured at once and never wait for us.
 */
export function debianTriggers() {
  return MODULE_TRIGGER_PATHS.map((dir) => `interest-noawait ${dir}\n`).join("");
}

function controlFile(info, installedSize) {
  const fields = [
    ["Package", info.name],
    ["Version", info.version],
    ["Architecture", "all"],
    ["Maintainer", info.maintainer],
    ["Installed-Size", String(installedSize)],
    ["Depends", info.debian.depends.join(", ")],
    ["Section", info.debian.section],
    ["Priority", info.debian.priority],
    ["Description", info.summary],
  ];
  const body = info.description.map((line) => (line === "" ? " ." : ` ${line}`));
  return `${fields.map(([key, value]) => `${key}: ${value}`).join("\n")}\n${body.join("\n")}\n`;
}

/** What dpkg-gencontrol would say: each file rounded up to 1 KiB, plus 1 KiB per directory. */
function installedSizeKiB(root, files) {
  const bytes = files.reduce((sum, file) => sum + Math.ceil(statSync(path.join(root, file.path)).size / 1024), 0);
  const dirs = new Set(files.flatMap((file) => parents(file.path)));
  return bytes + dirs.size;
}

function parents(file) {
  const out = [];
  for (let dir = path.posix.dirname(file); dir !== "/"; dir = path.posix.dirname(dir)) out.push(dir);
  return out;
}

function md5sums(root, files) {
  return files
    .filter((file) => !file.conffile) // dpkg keeps conffile sums in its status file instead
    .map(
      (file) =>
        `${createHash("md5")
          .update(readFileSync(path.join(root, file.path)))
          .digest("hex")}  ${file.path.slice(1)}\n`,
    )
    .join("");
}
