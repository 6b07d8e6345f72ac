/**
 * The config adapter: reads every `*.conf` file of the config directory (default
 * /etc/vfio-autobind) in file name order. A missing directory means no claims; a file
 * that cannot be read is an error of its own, so nothing is bound on half a config.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeFsError, errnoCode } from "../errors.js";
import { mergeClaimFiles, type ClaimConfig, type ConfigError } from "./claimConfig.js";

export interface LoadedConfig extends ClaimConfig {
  /** Identifies this exact config, to tell whether generated rules are stale. */
  readonly digest: string;
  readonly files: readonly string[];
}

/** The config with its digest computed on first use: the udev path never needs it. */
function withLazyDigest(
  config: ClaimConfig,
  files: readonly { name: string; text: string }[],
  extra: Partial<LoadedConfig> = {},
): LoadedConfig {
  let digest: string | undefined;
  return {
    ...config,
    files: files.map((f) => f.name),
    get digest(): string {
      digest ??= digestOf(files);
      return digest;
    },
    ...extra,
  };
}

export function readClaimConfig(configDir: string): LoadedConfig {
  let names: string[];
  try {
    names = fs
      .readdirSync(configDir)
      .filter((name) => name.endsWith(".conf"))
      .sort();
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return withLazyDigest(mergeClaimFiles([]), []);
    const problem: ConfigError = {
      file: configDir,
      line: 0,
      message: `cannot list the config directory: ${describeFsError(error)}`,
    };
    return { claims: [], exclusions: [], errors: [problem], digest: "unreadable", files: [] };
  }
  const files: { name: string; text: string }[] = [];
  const unreadable: ConfigError[] = [];
  for (const name of names) {
    const file = path.join(configDir, name);
    try {
      files.push({ name: file, text: fs.readFileSync(file, "utf8") });
    } catch (error) {
      unreadable.push({ file, line: 0, message: `cannot read: ${describeFsError(error)}` });
    }
  }
  const merged = mergeClaimFiles(files);
  return withLazyDigest({ ...merged, errors: [...unreadable, ...merged.errors] }, files);
}

function digestOf(files: readonly { name: string; text: string }[]): string {
  // Required here, not at the top: loading node:crypto costs the udev path for nothing.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  const hash = createHash("sha256");
  for (const file of files) hash.update(`${path.basename(file.name)}\0${file.text}\0`);
  return hash.digest("hex").slice(0, 16);
}
