// Builds dist/vfio-autobind-<version>-<release>.noarch.rpm with rpmbuild from the layout: the
// spec is generated, and its %install copies the staged tree, so the file list, modes and
// %config flags come from the same entries as the .deb's.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { rpmChangelog } from "./generate/changelog.mjs";
import { filesFor, MODULE_TRIGGER_PATHS, ownedDirectories } from "./layout.mjs";
import { rpmScriptlets } from "./scriptlets.mjs";
import { stageTree } from "./stageTree.mjs";

/**
 * @param {object} build  as for buildDeb, plus the build date for %changelog
 * @returns {string} the .rpm's path
 */
export function buildRpm({ allFiles, info, contentOf, epoch, date, workDir, outDir }) {
  const files = filesFor("rpm", allFiles);
  const stage = path.join(workDir, "rpm-stage");
  stageTree(stage, files, (file) => contentOf(file, "rpm"));

  const top = path.join(workDir, "rpmbuild");
  mkdirSync(top, { recursive: true });
  const spec = path.join(top, `${info.name}.spec`);
  writeFileSync(spec, specFile(info, files, date));
  execFileSync(
    "rpmbuild",
    [
      "-bb",
      "--quiet",
      ...define("_topdir", top),
      ...define("_stage", stage),
      // The man page is gzipped already and nothing here is a binary: the brp scripts
      // (compress, strip) would only rewrite files and make them differ from the .deb's.
      ...define("__os_install_post", "%{nil}"),
      // Reproducible: build time and file times from SOURCE_DATE_EPOCH, no host name.
      ...define("use_source_date_epoch_as_buildtime", "1"),
      ...define("clamp_mtime_to_source_date_epoch", "1"),
      ...define("_buildhost", "reproducible"),
      spec,
    ],
    { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) }, stdio: ["ignore", "ignore", "inherit"] },
  );

  const name = `${info.name}-${info.version}-${info.rpmRelease}.noarch.rpm`;
  const built = path.join(top, "RPMS", "noarch", name);
  if (!readdirSync(path.dirname(built)).includes(name)) throw new Error(`rpmbuild did not write ${built}`);
  const rpm = path.join(outDir, name);
  renameSync(built, rpm);
  return rpm;
}

const define = (name, value) => ["--define", `${name} ${value}`];

function specFile(info, files, date) {
  const scripts = rpmScriptlets();
  const lines = [
    `Name: ${info.name}`,
    `Version: ${info.version}`,
    `Release: ${info.rpmRelease}`,
    `Summary: ${info.summary[0].toUpperCase()}${info.summary.slice(1)}`,
    `License: ${info.license}`,
    `Group: ${info.rpm.group}`,
    `Packager: ${info.maintainer}`,
    "BuildArch: noarch",
    ...info.rpm.requires.map((requirement) => `Requires: ${requirement}`),
    "",
    "%description",
    ...info.description.map(literal),
    "",
    "%prep",
    "%build",
    "%install",
    "cp -a %{_stage}/. %{buildroot}/",
    "",
    "%post",
    literal(scripts.post),
    "",
    "%preun",
    literal(scripts.preun),
    "",
    "%postun",
    literal(scripts.postun),
    "",
    // Modules a package installs or removes, once per transaction.
    `%transfiletriggerin -- ${MODULE_TRIGGER_PATHS.join(" ")}`,
    literal(scripts.moduleTrigger),
    "",
    `%transfiletriggerpostun -- ${MODULE_TRIGGER_PATHS.join(" ")}`,
    literal(scripts.moduleTrigger),
    "",
    "%files",
    ...ownedDirectories(files).map((dir) => `%dir %attr(0755,root,root) ${dir}`),
    ...files.map(fileLine),
    "",
    "%changelog",
    literal(rpmChangelog(info, date)),
    "",
  ];
  return lines.join("\n");
}

function fileLine(file) {
  const attr = `%attr(${file.mode.toString(8).padStart(4, "0")},root,root)`;
  const tag = file.conffile ? "%config(noreplace) " : file.rpmTag ? `%${file.rpmTag} ` : "";
  return `${tag}${attr} ${file.path}`;
}

/** rpm expands macros in every section: a literal % is written %%. */
function literal(text) {
  return text.replace(/%/g, "%%");
}
