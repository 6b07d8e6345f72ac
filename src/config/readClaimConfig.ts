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

/** A claim file read: its path, its text, and its name in the directory (what orders it). */
interface ClaimFileText {
  readonly name: string;
  readonly text: string;
  readonly order: string;
}

export interface LoadedConfig extends ClaimConfig {
  /** Identifies this exact config, to tell whether generated rules are stale. */
  readonly digest: string;
  readonly files: readonly string[];
}

/** The config with its digest computed on first use: the udev path never needs it. */
function withLazyDigest(config: ClaimConfig, files: readonly ClaimFileText[]): LoadedConfig {
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

/**
 * A claim file not installed yet (`check FILE`), read with the installed ones: in place of
 * the installed file it replaces, or added to them, in name order either way.
 */
export interface StagedClaimFile {
  /** Its path as given; messages name it. */
  readonly file: string;
  /** The name of the installed file it replaces (`50-gpu.conf`), or null: it is added, under its own name. */
  readonly replaces: string | null;
}

/** A name a claim file may have in the config directory (what `check --as` takes). */
export const isClaimFileName = (name: string): boolean =>
  name.endsWith(".conf") && name.length > ".conf".length && !name.includes("/") && !hasUnsafeCharacters(name);

export function readClaimConfig(configDir: string, staged?: StagedClaimFile): LoadedConfig {
  let names: string[];
  try {
    names = fs
      .readdirSync(configDir)
      .filter((name) => name.endsWith(".conf") && name !== staged?.replaces)
      .sort();
  } catch (error) {
    if (errnoCode(error) !== "ENOENT")
      return unreadableConfig({
        file: configDir,
        line: 0,
        message: `cannot list the config directory: ${describeFsError(error)}`,
      });
    names = [];
  }
  if (names.length > MAX_CONFIG_FILES) {
    return unreadableConfig({
      file: configDir,
      line: 0,
      message: `${names.length} *.conf files, more than the ${MAX_CONFIG_FILES} allowed; none read`,
    });
  }
  const files: ClaimFileText[] = [];
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
      files.push({ name: file, text: readClaimFile(file), order: name });
    } catch (error) {
      if (!(error instanceof FileError)) throw error;
      unreadable.push({ file, line: 0, message: error.problem });
    }
  }
  if (staged !== undefined) {
    try {
      const order = staged.replaces ?? path.basename(staged.file);
      files.push({ name: staged.file, text: readClaimFile(staged.file), order });
    } catch (error) {
      if (!(error instanceof FileError)) throw error;
      unreadable.push({ file: staged.file, line: 0, message: error.problem });
    }
  }
  const merged = mergeClaimFiles(files);
  return withLazyDigest({ ...merged, errors: [...unreadable, ...merged.errors] }, files);
}

/** One claim file's text, read as a claim file must be (regular, bounded); throws FileError. */
function readClaimFile(file: string): string {
  return readRegularFile(file, { maxBytes: MAX_CONFIG_FILE_BYTES });
}

function digestOf(files: readonly ClaimFileText[]): string {
  // Loaded here, not at start-up: the udev path never needs a digest.
  const { createHash } = loadCrypto();
  const hash = createHash("sha256");
  for (const file of files) hash.update(`${file.order}\0${file.text}\0`);
  return hash.digest("hex").slice(0, 16);
}
