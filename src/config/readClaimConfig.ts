/**
 * The config adapter: reads every `*.conf` file of the config directory (default
 * /etc/vfio-autobind) in file name order. A missing directory means no claims; a file
 * that cannot be read is an error of its own, so nothing is bound on half a config.
 *
 * Only regular files are read (a FIFO, /dev/zero or a directory named `*.conf` is an
 * error, never a hang or an allocation failure), each up to MAX_CONFIG_FILE_BYTES, and at
 * most MAX_CONFIG_FILES of them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeFsError, errnoCode } from "../errors.js";
import { loadCrypto } from "../process/lazyBuiltins.js";
import { FileError, readRegularFile } from "../files/safeFiles.js";
import { hasUnsafeCharacters, quoteForDisplay } from "../text/safeText.js";
import { mergeClaimFiles, type ClaimConfig, type ConfigError } from "./claimConfig.js";

/** A claim file is a few hundred bytes; a megabyte is not a claim file. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** More claim files than this is not a config an admin wrote. */
export const MAX_CONFIG_FILES = 256;

export interface LoadedConfig extends ClaimConfig {
  /** Identifies this exact config, to tell whether generated rules are stale. */
  readonly digest: string;
  readonly files: readonly string[];
}

/** The config with its digest computed on first use: the udev path never needs it. */
function withLazyDigest(config: ClaimConfig, files: readonly { name: string; text: string }[]): LoadedConfig {
  let digest: string | undefined;
  return {
    ...config,
    files: files.map((f) => f.name),
    get digest(): string {
      digest ??= digestOf(files);
      return digest;
    },
  };
}

function unreadableConfig(problem: ConfigError): LoadedConfig {
  return { claims: [], exclusions: [], errors: [problem], digest: "unreadable", files: [] };
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
    return unreadableConfig({
      file: configDir,
      line: 0,
      message: `cannot list the config directory: ${describeFsError(error)}`,
    });
  }
  if (names.length > MAX_CONFIG_FILES) {
    return unreadableConfig({
      file: configDir,
      line: 0,
      message: `${names.length} *.conf files, more than the ${MAX_CONFIG_FILES} allowed; none read`,
    });
  }
  const files: { name: string; text: string }[] = [];
  const unreadable: ConfigError[] = [];
  for (const name of names) {
    // The file name becomes the start of every message about it: no control characters.
    if (hasUnsafeCharacters(name)) {
      unreadable.push({
        file: configDir,
        line: 0,
        message: `${quoteForDisplay(name)}: a file name with control characters; not read`,
      });
      continue;
    }
    const file = path.join(configDir, name);
    try {
      files.push({ name: file, text: readRegularFile(file, { maxBytes: MAX_CONFIG_FILE_BYTES }) });
    } catch (error) {
      if (!(error instanceof FileError)) throw error;
      unreadable.push({ file, line: 0, message: error.problem });
    }
  }
  const merged = mergeClaimFiles(files);
  return withLazyDigest({ ...merged, errors: [...unreadable, ...merged.errors] }, files);
}

function digestOf(files: readonly { name: string; text: string }[]): string {
  // Loaded here, not at start-up: the udev path never needs a digest.
  const { createHash } = loadCrypto();
  const hash = createHash("sha256");
  for (const file of files) hash.update(`${path.basename(file.name)}\0${file.text}\0`);
  return hash.digest("hex").slice(0, 16);
}
