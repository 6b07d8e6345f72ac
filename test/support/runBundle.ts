/**
 * Runs the built bundles the way admins and udev run them: the CLI with the installed
 * wrapper's flags, the udev helper with the packaged udev rule's.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { refuseRealSysfs, TEST_GUARD } from "./hostGuard.js";
import { RULE_FLAGS, WRAPPER_FLAGS } from "./testNodes.js";

export const BUNDLE = path.resolve(__dirname, "../../dist/vfio-autobind.js");
export const HELPER_BUNDLE = path.resolve(__dirname, "../../dist/udev-helper.js");
export const MDWE_LAUNCHER = path.resolve(__dirname, "with-mdwe.py");

export interface BundleResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function assertBundleBuilt(file = BUNDLE): void {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build first (npm test does)`);
}

/** V8's own notice under --jitless on Node 18 to 22; not ours, so tests look past it. */
export function withoutNodeNotices(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => !line.startsWith("Warning: disabling flag --expose_wasm"))
    .join("\n");
}

export async function runBundle(
  args: readonly string[],
  options: { env?: Record<string, string>; mdwe?: boolean; node?: string[]; nodeBinary?: string; bundle?: string } = {},
): Promise<BundleResult> {
  if (options.bundle === undefined) assertBundleBuilt();
  refuseRealSysfs(args);
  const nodeArgs = options.node ?? WRAPPER_FLAGS;
  const node = options.nodeBinary ?? process.execPath;
  const command = options.mdwe === true ? ["python3", MDWE_LAUNCHER, node] : [node];
  const result = await execa(
    command[0] as string,
    [...command.slice(1), ...nodeArgs, options.bundle ?? BUNDLE, ...args],
    {
      reject: false,
      env: { ...options.env, VFIO_AUTOBIND_DEBUG: "", ...TEST_GUARD },
      extendEnv: true,
    },
  );
  return {
    exitCode: result.exitCode ?? -1,
    stdout: result.stdout,
    stderr: withoutNodeNotices(result.stderr),
  };
}

/** The udev helper's bundle, as the packaged rule runs it; the event is in `options.env`. */
export function runHelperBundle(
  args: readonly string[],
  options: { env?: Record<string, string>; mdwe?: boolean; node?: string[]; nodeBinary?: string; bundle?: string } = {},
): Promise<BundleResult> {
  if (options.bundle === undefined) assertBundleBuilt(HELPER_BUNDLE);
  return runBundle(args, {
    ...options,
    node: options.node ?? [...RULE_FLAGS],
    bundle: options.bundle ?? HELPER_BUNDLE,
  });
}
