/**
 * Puts vfio-autobind into the guest, into an overlay directory that lands on the base root.
 * The one place that knows how the tool is installed:
 *
 *   - a package built in dist/ (dist/vfio-autobind_*_all.deb): installed with
 *     `apt-get install ./vfio-autobind_*.deb` in a chroot of the base root, the way an admin
 *     installs it, maintainer scripts and all, so the release's own resolver checks our
 *     Depends. The chroot has no network and no package lists: every dependency must
 *     already be in the base root (guestRoot.ts), or the install fails.
 *     The chroot is an overlayfs mount whose upper layer is the overlay directory, so only
 *     what dpkg changed ends up in the overlay and the cached base stays untouched;
 *   - otherwise the bundles and a wrapper at the paths the package will use, plus the repo's
 *     rules.d/*.rules in /usr/lib/udev/rules.d.
 *
 * VFIO_AUTOBIND_VM_INSTALL=bundle or =deb chooses explicitly.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { REPO_ROOT } from "./paths.js";
import { run, say } from "./command.js";
import { writeFile } from "./rootFiles.js";
import { GUEST_TOOL_PACKAGE } from "../shared/udevClaims.js";

export type InstallMethod =
  { readonly kind: "deb"; readonly file: string } | { readonly kind: "bundle"; readonly rules: readonly string[] };

const RULES_DIR = path.join(REPO_ROOT, "rules.d");

/** A built bundle: where dist/ has it and where the package installs it. */
interface Bundle {
  readonly dist: string;
  readonly installed: string;
}

interface Layout {
  /** Every bundle the package installs. */
  readonly BUNDLES: readonly Bundle[];
  /** Where the CLI bundle is installed, for the wrapper. */
  readonly BUNDLE_PATH: string;
}

/** packaging/layout.mjs, typed (it is plain JavaScript without declarations). */
async function loadLayout(): Promise<Layout> {
  // @ts-expect-error layout.mjs is plain JavaScript without declarations
  return (await import("../../../packaging/layout.mjs")) as Layout;
}

export async function installTool(baseRoot: string, overlay: string): Promise<InstallMethod> {
  const layout = await loadLayout();
  const deb = chooseDeb(layout.BUNDLES);
  const method = deb !== null ? await installDeb(baseRoot, overlay, deb) : installBundles(overlay, layout);
  say(`tool installed from ${method.kind === "deb" ? path.relative(REPO_ROOT, method.file) : "dist/"}`);
  return method;
}

/** The newest vfio-autobind_*_all.deb `npm run package` left in dist/, or null. */
export function newestDistDeb(): string | null {
  const dist = path.join(REPO_ROOT, "dist");
  const debs = fs.existsSync(dist) ? fs.readdirSync(dist).filter((f) => /^vfio-autobind_.*_all\.deb$/.test(f)) : [];
  const newest = debs.map((f) => path.join(dist, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  return newest ?? null;
}

function chooseDeb(bundles: readonly Bundle[]): string | null {
  const choice = process.env.VFIO_AUTOBIND_VM_INSTALL ?? "";
  if (choice === "bundle") return null;
  const newest = newestDistDeb();
  if (newest === null) {
    if (choice === "deb")
      throw new Error("VFIO_AUTOBIND_VM_INSTALL=deb, but dist/ holds no vfio-autobind_*_all.deb: run npm run package");
    return null;
  }
  assertDebIsCurrent(newest, bundles);
  return newest;
}

/**
 * A package left in dist/ by an earlier `npm run package` would test yesterday's code, so
 * each bundle in it must be today's: byte for byte the one in dist/.
 */
function assertDebIsCurrent(deb: string, bundles: readonly Bundle[]): void {
  const options = { maxBuffer: 64 * 1024 * 1024 };
  const tarball = execFileSync("dpkg-deb", ["--fsys-tarfile", deb], options);
  for (const bundle of bundles) {
    const inPackage = execFileSync("tar", ["-xO", `.${bundle.installed}`], { ...options, input: tarball });
    if (!inPackage.equals(fs.readFileSync(path.join(REPO_ROOT, bundle.dist)))) {
      throw new Error(
        `${path.relative(REPO_ROOT, deb)} holds an older ${bundle.installed} than ${bundle.dist}: run npm run package, ` +
          "remove the .deb, or set VFIO_AUTOBIND_VM_INSTALL=bundle",
      );
    }
  }
}

function installBundles(overlay: string, layout: Layout): InstallMethod {
  for (const bundle of layout.BUNDLES) {
    const file = path.join(REPO_ROOT, bundle.dist);
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build first (npm run test:vm does)`);
    writeFile(overlay, bundle.installed.slice(1), fs.readFileSync(file), 0o644);
  }
  // As the package's wrapper: --jitless because udevd's MemoryDenyWriteExecute=yes forbids
  // the JIT (docs/kernel-facts.md, section 6).
  writeFile(overlay, "usr/sbin/vfio-autobind", `#!/bin/sh\nexec node --jitless ${layout.BUNDLE_PATH} "$@"\n`, 0o755);
  const rules = fs.existsSync(RULES_DIR)
    ? fs
        .readdirSync(RULES_DIR)
        .filter((f) => f.endsWith(".rules"))
        .sort()
    : [];
  for (const rule of rules)
    writeFile(overlay, `usr/lib/udev/rules.d/${rule}`, fs.readFileSync(path.join(RULES_DIR, rule)), 0o644);
  return { kind: "bundle", rules };
}

/**
 * Nothing cached, and nothing to download from: the root has no package lists, so apt
 * resolves against what it has installed and writes only its state and log into the overlay.
 */
const APT_OFFLINE = [
  "--yes",
  "--no-install-recommends",
  "-o",
  "Dir::Cache::pkgcache=",
  "-o",
  "Dir::Cache::srcpkgcache=",
  // No /dev/pts in the chroot for dpkg's terminal log.
  "-o",
  "Dpkg::Use-Pty=0",
];

async function installDeb(baseRoot: string, overlay: string, deb: string): Promise<InstallMethod> {
  const scratch = fs.mkdtempSync(path.join(path.dirname(overlay), "dpkg-"));
  const work = path.join(scratch, "work");
  const merged = path.join(scratch, "merged");
  fs.mkdirSync(work);
  fs.mkdirSync(merged);
  await run("mount", [
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=${baseRoot},upperdir=${overlay},workdir=${work}`,
    merged,
  ]);
  try {
    const inChroot = `/tmp/${path.basename(deb)}`;
    fs.copyFileSync(deb, path.join(merged, inChroot));
    // No /proc, /sys or /dev is mounted in this chroot, so no maintainer script can touch
    // the host's devices; policy-rc.d keeps it from starting services.
    writeFile(merged, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755);
    try {
      await run("chroot", [merged, "apt-get", "install", ...APT_OFFLINE, `.${inChroot}`], {
        env: { DEBIAN_FRONTEND: "noninteractive", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      });
    } finally {
      fs.rmSync(path.join(merged, inChroot), { force: true });
      fs.rmSync(path.join(merged, "usr/sbin/policy-rc.d"), { force: true });
    }
  } finally {
    await run("umount", [merged]);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  refuseWhiteouts(overlay);
  writeFile(overlay, GUEST_TOOL_PACKAGE.slice(1), fs.readFileSync(deb), 0o644);
  return { kind: "deb", file: deb };
}

/** A file dpkg deleted from the base shows up as a whiteout, which a cpio overlay cannot express. */
function refuseWhiteouts(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isCharacterDevice())
      throw new Error(`apt-get install removed ${full} from the base root; the overlay cannot carry a removal`);
    if (entry.isDirectory()) refuseWhiteouts(full);
  }
}
