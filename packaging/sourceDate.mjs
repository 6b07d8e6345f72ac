// The date stamped into the packages (changelog, man page, file times): SOURCE_DATE_EPOCH if
// the caller sets one, else the time of the commit being packaged, so that building the same
// commit twice gives the same packages. Outside a git checkout: now.
import { execFileSync } from "node:child_process";

export function sourceDateEpoch(repoRoot) {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  try {
    const out = execFileSync("git", ["log", "-1", "--format=%ct"], {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    if (/^\d+$/.test(out.trim())) return Number(out.trim());
  } catch {
    // not a git checkout, or no git: fall through
  }
  return Math.floor(Date.now() / 1000);
}
