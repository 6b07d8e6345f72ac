/**
 * The packaging tests drive Debian tools. A missing tool is a failure that says which apt
 * package to install, never a silent skip: CI installs them (see packaging/README.md).
 */
import { execFileSync } from "node:child_process";

/** Command → the Debian package that provides it. */
const PROVIDED_BY: Record<string, string> = {
  "dpkg-deb": "dpkg",
  rpm: "rpm",
  rpmbuild: "rpm",
  rpmlint: "rpmlint",
  lintian: "lintian",
  mmdebstrap: "mmdebstrap",
  man: "man-db",
  chroot: "coreutils",
};

export function requireTools(commands: readonly string[]): void {
  const missing = commands.filter((command) => !onPath(command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((command) => PROVIDED_BY[command] ?? command))];
  throw new Error(
    `the packaging tests need ${missing.join(", ")}, which are not installed: apt-get install --no-install-recommends ${packages.join(" ")}`,
  );
}

/** mmdebstrap --mode=root, chroot and rpm --root need real root. */
export function requireRoot(why: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${why} needs root (CI runs the tests as root); run npm test as root`);
}

function onPath(command: string): boolean {
  try {
    execFileSync("sh", ["-c", 'command -v "$1"', "sh", command], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
