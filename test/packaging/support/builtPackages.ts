/**
 * Builds the .deb and .rpm the way `npm run package` does, into a temporary directory, from
 * the bundle `npm test` has just built (these tests never rebuild dist/vfio-autobind.js: other
 * suites run it at the same time).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";

export const REPO = path.resolve(__dirname, "../../..");
export const PACKAGE_SCRIPT = path.join(REPO, "packaging/package.mjs");

export interface BuiltPackages {
  readonly dir: string;
  readonly deb: string;
  readonly rpm: string;
}

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `vfio-autobind-${prefix}-`));
}

/** Runs packaging/package.mjs; `rulesDir` packages another directory's *.rules. */
export async function buildPackages(options: { rulesDir?: string } = {}): Promise<BuiltPackages> {
  const dir = tempDir("packages");
  const args = [
    PACKAGE_SCRIPT,
    "--out",
    dir,
    ...(options.rulesDir !== undefined ? ["--rules-dir", options.rulesDir] : []),
  ];
  const result = await execa(process.execPath, args, { cwd: REPO, reject: false, all: true });
  if (result.exitCode !== 0) throw new Error(`packaging/package.mjs failed (exit ${result.exitCode}):\n${result.all}`);
  const version = packageVersion();
  const built = {
    dir,
    deb: path.join(dir, `vfio-autobind_${version}_all.deb`),
    rpm: path.join(dir, `vfio-autobind-${version}-1.noarch.rpm`),
  };
  for (const file of [built.deb, built.rpm]) {
    if (!fs.existsSync(file))
      throw new Error(`packaging/package.mjs did not write ${file}; it printed:\n${result.all}`);
  }
  return built;
}

/** Every file and symlink under `root`, as absolute paths on the installed system. */
export function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(`/${path.relative(root, full)}`);
    }
  };
  walk(root);
  return out.sort();
}

/** The repository's udev rules, whichever exist today. */
export function repoRules(): string[] {
  return fs
    .readdirSync(path.join(REPO, "rules.d"))
    .filter((name) => name.endsWith(".rules"))
    .sort();
}
