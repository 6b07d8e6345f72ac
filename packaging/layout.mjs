// The one description of the vfio-autobind packages: what the package is, which file goes
// where with which mode, and what the program itself writes on the machine. buildDeb.mjs and
// buildRpm.mjs both take their file lists from here, so the .deb and the .rpm cannot drift.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { loadProgramPaths } from "./programPaths.mjs";

/**
 * @typedef {"deb" | "rpm"} Format
 * @typedef {{ file: string, fill?: boolean } | { generate: "manPage" | "confManPage" | "bashCompletion" | "copyright" | "debianChangelog" }} Source
 * @typedef {object} InstalledFile
 * @property {string} path         absolute install path
 * @property {number} mode
 * @property {Source} from         a file (relative to the repository, or absolute), with
 *                                 the program's paths filled in (fill, fillPaths below), or
 *                                 a generator in generate/
 * @property {Format[]} formats    the packages that carry it
 * @property {boolean} [conffile]  admin-editable: a dpkg conffile, rpm %config(noreplace)
 * @property {"doc" | "license"} [rpmTag] %doc or %license in the rpm file list
 * @property {string} [describe]   listed under FILES in the man page
 */

export const NAME = "vfio-autobind";

/** Where the packages put the CLI bundle; the wrapper (/usr/sbin/vfio-autobind) runs it from here. */
export const BUNDLE_PATH = `/usr/lib/${NAME}/${NAME}.js`;
/** Where the packages put the udev helper's bundle; the udev rule runs it from here. */
export const HELPER_PATH = `/usr/lib/${NAME}/udev-helper.js`;

/**
 * The two bundles build.mjs writes: each an esbuild bundle of one entry, built into dist/ and
 * installed as it is. The CLI (every command) and the udev helper (one add event) are apart
 * so that a udev event parses only the helper's code.
 */
export const BUNDLES = [
  { entry: "src/start/cliMain.ts", dist: `dist/${NAME}.js`, installed: BUNDLE_PATH },
  { entry: "src/start/udevHelperMain.ts", dist: "dist/udev-helper.js", installed: HELPER_PATH },
];

/**
 * How node runs the bundle, by the wrapper (files/vfio-autobind.sh), the udev rule
 * (rules.d/70-vfio-autobind.rules), the README and `npm start`: --jitless because
 * systemd-udevd's sandbox forbids the JIT, and what an admin runs should behave as what udev
 * runs. Only flags Node documents, which every supported major takes: node refuses to start
 * on a flag it does not know. test/packaging holds the files to these lists, and the bundle
 * tests start both command lines on every major (scripts/testNodes.mjs).
 */
export const NODE_FLAGS = ["--jitless"];

/**
 * Flags the wrapper adds to NODE_FLAGS only when the node it is about to run accepts them,
 * which it asks at each run (files/vfio-autobind.sh says how and why). --no-expose-wasm
 * silences V8's "Warning: disabling flag --expose_wasm", which Node 18 to 22 print under
 * --jitless at every start; it is V8's, not Node's, and Node 24 refuses it and does not
 * start. It changes nothing else: --jitless has no WebAssembly anyway.
 */
export const QUIET_NODE_FLAGS = ["--no-expose-wasm"];

/**
 * The udev rule's flags: NODE_FLAGS, and a young generation (V8's semi-space) of 4 MiB from
 * the start. A udev event lives about 50 ms and allocates 3 to 5 MiB, nearly all of it kept
 * to the end (the parsed bundle, the alias records); with V8's 1 MiB start it ran two to six
 * scavenges that copied those survivors to no purpose. Pages are touched only as they are
 * allocated, so the peak RSS does not grow. The flag is V8's, which Node does not promise to
 * keep; Node 18 to 26 take it and size the young generation by it, and the tests start the
 * rule's command line on every supported major, so a Node that dropped it would fail them
 * before a package reached a host. Only the rule has it: the command an admin types does not.
 * bench/suite.ts reads them from the rule, so the benchmark times what udev runs. The rule
 * has no QUIET_NODE_FLAGS: its stderr goes to udevd's debug log, not to a terminal, and asking
 * node first would cost every event a second start.
 */
export const HELPER_NODE_FLAGS = [...NODE_FLAGS, "--min-semi-space-size=4"];

/** Package metadata. The version lives in package.json only. */
export function packageInfo(repoRoot) {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
  const { version } = pkg;
  const node = minimumNode(pkg);
  return {
    name: NAME,
    version,
    // Packaging revision of the rpm (its file name is NAME-VERSION-RELEASE.noarch.rpm). The
    // .deb is a native Debian package: its version is the upstream version alone.
    rpmRelease: "1",
    summary: "bind claimed PCI devices to their most specific VFIO driver",
    // Lines of at most 79 characters (lintian and rpmlint both count).
    description: [
      "vfio-autobind hands PCI devices to VFIO for virtual machines. For each device",
      "it ranks the vfio_pci aliases that the running kernel publishes in",
      "modules.alias, most specific first, so a vendor variant driver such as",
      "mlx5_vfio_pci wins over the generic vfio-pci whenever one is installed.",
      "It runs from udev for the devices an admin has claimed, and as a command",
      "for listing, explaining, binding and releasing devices by hand.",
    ],
    maintainer: "vfio-autobind maintainers <maintainers@users.noreply.r-seed-ccfe3011.example>",
    copyrightHolder: "The vfio-autobind developers",
    license: "MIT",
    debian: {
      section: "admin",
      priority: "optional",
      // util-linux: flock(1) guards every device change (its --exclusive, --nonblock and
      // --wait on a descriptor are much older than 2.20; util-linux is Essential, and lintian
      // wants Essential packages named only with a version). kmod: modprobe.
      depends: [`nodejs (>= ${node})`, "udev", "kmod", "util-linux (>= 2.20)"],
    },
    rpm: {
      group: "System Environment/Kernel",
      // Fedora's and RHEL's nodejs carries epoch 1, and a requirement without the epoch
      // would compare as 0:18 and be met by any of them, RHEL 9's default Node 16 too.
      requires: [`nodejs >= 1:${node}`, "systemd-udev", "kmod", "util-linux"],
    },
  };
}

/**
 * The oldest Node the bundle runs on, from package.json's engines field (`>=18.19`): the
 * bundle itself refuses older ones (src/nodeVersion.ts; a test holds the two together).
 */
function minimumNode(pkg) {
  const match = /^>=(\d+\.\d+)$/.exec(pkg.engines?.node ?? "");
  if (match === null) throw new Error(`package.json engines.node must read ">=MAJOR.MINOR", not ${pkg.engines?.node}`);
  return match[1];
}

const doc = `/usr/share/doc/${NAME}`;

/**
 * Every file the packages install, in install-path order.
 * @param {string} repoRoot
 * @param {{ rulesDir?: string }} [options]  rulesDir: where the udev rules come from (rules.d)
 * @returns {InstalledFile[]}
 */
export function installedFiles(repoRoot, { rulesDir = path.join(repoRoot, "rules.d") } = {}) {
  /** @type {InstalledFile[]} */
  const files = [
    ...BUNDLES.map((bundle) => ({
      path: bundle.installed,
      mode: 0o644,
      from: { file: bundle.dist },
      formats: ["deb", "rpm"],
    })),
    {
      path: `/usr/sbin/${NAME}`,
      mode: 0o755,
      from: { file: "packaging/files/vfio-autobind.sh" },
      formats: ["deb", "rpm"],
    },
    ...udevRules(rulesDir),
    {
      path: `/etc/${NAME}/00-example.conf`,
      mode: 0o644,
      from: { file: "packaging/files/00-example.conf" },
      formats: ["deb", "rpm"],
      conffile: true,
    },
    { path: `/usr/share/man/man8/${NAME}.8.gz`, mode: 0o644, from: { generate: "manPage" }, formats: ["deb", "rpm"] },
    {
      path: `/usr/share/man/man5/${NAME}.conf.5.gz`,
      mode: 0o644,
      from: { generate: "confManPage" },
      formats: ["deb", "rpm"],
    },
    {
      path: `/usr/share/bash-completion/completions/${NAME}`,
      mode: 0o644,
      from: { generate: "bashCompletion" },
      formats: ["deb", "rpm"],
    },
    { path: `${doc}/README.md`, mode: 0o644, from: { file: "README.md" }, formats: ["deb", "rpm"], rpmTag: "doc" },
    ...bootHoldFiles(),
    // The kernel install hook, where each family looks: Debian's kernel postinst runs
    // /etc/kernel/postinst.d (a conffile, so an admin who disables it keeps that), Fedora's
    // kernel-install the plugins in /usr/lib/kernel/install.d. One script serves both.
    {
      path: `/etc/kernel/postinst.d/${NAME}`,
      mode: 0o755,
      from: { file: "packaging/files/kernel-postinst" },
      formats: ["deb"],
      conffile: true,
      describe: "recompiles the udev rules' driver decisions for a newly installed kernel",
    },
    {
      path: `/usr/lib/kernel/install.d/90-${NAME}.install`,
      mode: 0o755,
      from: { file: "packaging/files/kernel-postinst" },
      formats: ["rpm"],
    },
    // Debian wants the license and the changelog in the doc directory; rpm keeps the license
    // under /usr/share/licenses (%license) and the changelog in the header (%changelog).
    { path: `${doc}/copyright`, mode: 0o644, from: { generate: "copyright" }, formats: ["deb"] },
    { path: `${doc}/changelog.gz`, mode: 0o644, from: { generate: "debianChangelog" }, formats: ["deb"] },
    {
      path: `/usr/share/licenses/${NAME}/copyright`,
      mode: 0o644,
      from: { generate: "copyright" },
      formats: ["rpm"],
      rpmTag: "license",
    },
  ];
  // Byte order, not the locale's: the same tree must give the same packages everywhere.
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The unit that holds claimed devices before udev's coldplug in the real root (boot/*.service). */
export const HOLD_UNIT = `${NAME}-hold.service`;
/** The sweep: after the coldplug, and then by its timer, every hold still there goes to the kernel. */
export const SWEEP_UNIT = `${NAME}-sweep.service`;
export const SWEEP_TIMER = `${NAME}-sweep.timer`;
/** When the running kernel's module index changes, claimed devices move to better drivers. */
export const MOVES_PATH = `${NAME}-moves.path`;
export const MOVES_UNIT = `${NAME}-moves.service`;
/** The units the packages ship, enabled on installation and masked while the package is removed. */
export const UNITS = [HOLD_UNIT, SWEEP_UNIT, SWEEP_TIMER, MOVES_PATH, MOVES_UNIT];
/** Where each unit's file is in the source tree: the boot's units beside the boot scripts. */
const UNIT_SOURCES = {
  [HOLD_UNIT]: "packaging/files/boot",
  [SWEEP_UNIT]: "packaging/files/boot",
  [SWEEP_TIMER]: "packaging/files/boot",
  [MOVES_PATH]: "packaging/files",
  [MOVES_UNIT]: "packaging/files",
};

/**
 * Where packages install kernel modules (Debian before and after the /usr merge, Fedora):
 * the dpkg and rpm file triggers watch them, so a module package installed where no
 * systemd runs (a chroot, an image build) still regenerates the rules. DKMS installs no
 * packaged file, so only the path unit sees its modules.
 */
export const MODULE_TRIGGER_PATHS = ["/lib/modules", "/usr/lib/modules"];

/**
 * What holds claimed devices before udev's coldplug and lets go of holds that outlive their
 * decision: the initramfs-tools hook and its boot scripts, the dracut module and its hooks,
 * and the units for the real root. All of them run
 * programFiles.holdScript (or make it, with `vfio-autobind hold-script`).
 */
function bootHoldFiles() {
  const boot = "packaging/files/boot";
  /** @type {Format[]} */
  const both = ["deb", "rpm"];
  const dracutModule = `/usr/lib/dracut/modules.d/90${NAME}`;
  return [
    {
      path: `/usr/share/initramfs-tools/hooks/${NAME}`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/initramfs-tools-hook` },
      formats: both,
    },
    // "00-": runs before init-top/udev (the file's comments say why).
    {
      path: `/usr/share/initramfs-tools/scripts/init-top/00-${NAME}`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/initramfs-tools-init-top` },
      formats: both,
    },
    // While the root device is late: held storage controllers go to the kernel.
    {
      path: `/usr/share/initramfs-tools/scripts/local-block/${NAME}`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/initramfs-tools-local-block` },
      formats: both,
    },
    // Before switch_root: holds the real root's claims no longer stand behind go ("00-":
    // before init-bottom/udev moves /dev away).
    {
      path: `/usr/share/initramfs-tools/scripts/init-bottom/00-${NAME}`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/initramfs-tools-init-bottom` },
      formats: both,
    },
    {
      path: `${dracutModule}/module-setup.sh`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/dracut-module-setup.sh` },
      formats: both,
    },
    {
      path: `${dracutModule}/${NAME}-hold.sh`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/dracut-pre-udev-hook.sh` },
      formats: both,
    },
    {
      path: `${dracutModule}/${NAME}-timeout.sh`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/dracut-timeout-hook.sh` },
      formats: both,
    },
    {
      path: `${dracutModule}/${NAME}-pre-pivot.sh`,
      mode: 0o755,
      from: { fill: true, file: `${boot}/dracut-pre-pivot-hook.sh` },
      formats: both,
    },
    // Debian (bookworm) keeps packaged units in /lib/systemd/system, Fedora in /usr/lib/systemd/system.
    ...UNITS.flatMap((unit) => [
      {
        path: `/lib/systemd/system/${unit}`,
        mode: 0o644,
        from: { fill: true, file: `${UNIT_SOURCES[unit]}/${unit}` },
        formats: /** @type {Format[]} */ (["deb"]),
      },
      {
        path: `/usr/lib/systemd/system/${unit}`,
        mode: 0o644,
        from: { fill: true, file: `${UNIT_SOURCES[unit]}/${unit}` },
        formats: /** @type {Format[]} */ (["rpm"]),
      },
    ]),
  ];
}

/** Every *.rules file of rules.d/, whichever exist; a tree with none gives packages with none. */
function udevRules(rulesDir) {
  return readdirSync(rulesDir)
    .filter((name) => name.endsWith(".rules"))
    .sort()
    .map((name) => ({
      path: `/usr/lib/udev/rules.d/${name}`,
      mode: 0o644,
      from: { file: path.join(rulesDir, name) },
      formats: /** @type {Format[]} */ (["deb", "rpm"]),
      describe: "starts vfio-autobind for claimed devices as the kernel adds them",
    }));
}

/** The files of one package. @param {InstalledFile[]} files */
export function filesFor(format, files) {
  return files.filter((file) => file.formats.includes(format));
}

/**
 * Directories the package owns (removed with it): those named after the package. Shared
 * ones such as /usr/lib/udev/rules.d belong to other packages.
 */
export function ownedDirectories(files) {
  const dirs = new Set();
  for (const file of files) {
    for (let dir = path.posix.dirname(file.path); dir !== "/"; dir = path.posix.dirname(dir)) {
      // Its own directories, and dracut's module directory (90vfio-autobind).
      if (
        path.posix.basename(dir) === NAME ||
        (/^\d\d/.test(path.posix.basename(dir)) && path.posix.basename(dir).endsWith(NAME))
      )
        dirs.add(dir);
    }
  }
  return [...dirs].sort();
}

/** The program's own paths (src/paths.ts), loaded once for the packaging. */
export const PROGRAM_PATHS = loadProgramPaths();
const generated = PROGRAM_PATHS.generatedPaths(PROGRAM_PATHS.DEFAULT_PATHS.configDir);

/**
 * What the program writes at run time outside the package's own files, for the maintainer
 * scripts and the boot files: the program's own defaults (src/paths.ts), never restated.
 */
export const programFiles = {
  configDir: { path: PROGRAM_PATHS.DEFAULT_PATHS.configDir },
  /** `vfio-autobind apply` writes it from the claims; purge removes it. */
  claimsRule: { path: PROGRAM_PATHS.DEFAULT_PATHS.rulesFile },
  /** Written from the claims by every command that writes the rules; run at boot. Purge removes it. */
  holdScript: { path: generated.holdScript },
  /** One per kernel release whose initramfs holds claims, written by the hooks. Purge removes them. */
  initramfsStamps: { path: generated.initramfsStamp("RELEASE").replace("RELEASE", "*") },
  /** The kernel log: where the udev helper writes its decisions (src/journal/decisionLog.ts). */
  kernelLog: { path: PROGRAM_PATHS.DEFAULT_PATHS.kmsg },
  /** Volatile: purge leaves it to the next boot. */
  stateDir: { path: PROGRAM_PATHS.DEFAULT_PATHS.stateDir },
};

/** What a boot file marked `fill` has filled in at package time, by its placeholder. */
export const FILLED_PATHS = { "@HOLD_SCRIPT@": programFiles.holdScript.path };

/** `text` (the file `source`) with every placeholder of FILLED_PATHS filled in; an unknown one is an error. */
export function fillPaths(text, source) {
  return text.replace(/@[A-Z_]+@/g, (placeholder) => {
    const value = FILLED_PATHS[placeholder];
    if (value === undefined) throw new Error(`${source}: unknown placeholder ${placeholder}`);
    return value;
  });
}
