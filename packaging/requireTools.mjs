// The package builders call Debian tools; when one is missing, say which apt package has it
// instead of failing later with ENOENT.
import { execFileSync } from "node:child_process";

/** Command → the Debian package that provides it. */
export const TOOL_PACKAGES = {
  "dpkg-deb": "dpkg",
  rpmbuild: "rpm",
  rpm: "rpm",
};

export function requireTools(commands) {
  const missing = commands.filter((command) => !onPath(command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((command) => TOOL_PACKAGES[command] ?? command))];
  throw new Error(
    `${missing.join(", ")} not found; npm run setup installs it (or: apt-get install ${packages.join(" ")})`,
  );
}

function onPath(command) {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
