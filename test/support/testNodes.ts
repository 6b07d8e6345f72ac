/**
 * The Node releases the bundle tests run under, one per supported major (scripts/testNodes.mjs
 * pins them; npm test's pretest step fetches them), each with the packaged command lines'
 * flags (support/packagedCommands.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TEST_NODE_VERSIONS, testNodeBinary } from "../../scripts/testNodes.mjs";
import { ruleNodeFlags, wrapperNodeFlags } from "../../support/packagedCommands.js";

const REPO = path.resolve(__dirname, "../..");

export interface TestNode {
  /** "Node 18", for test names. */
  readonly name: string;
  readonly version: string;
  readonly binary: string;
}

export const TEST_NODES: readonly TestNode[] = TEST_NODE_VERSIONS.map((version) => ({
  name: `Node ${version.split(".")[0]}`,
  version,
  binary: testNodeBinary(version),
}));

/** Throws the one line that says how to get a Node that is not there. */
export function assertTestNode(node: TestNode): void {
  if (!fs.existsSync(node.binary))
    throw new Error(`${node.binary} is missing: run node scripts/fetch-nodes.mjs (npm test's pretest does)`);
}

/** node's flags as the installed command runs the bundle. */
export const WRAPPER_FLAGS: readonly string[] = wrapperNodeFlags(REPO);
/** node's flags as the packaged udev rule runs the udev helper. */
export const RULE_FLAGS: readonly string[] = ruleNodeFlags(REPO);
