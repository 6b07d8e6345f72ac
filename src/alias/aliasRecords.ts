/**
 * Reading the `vfio_pci:` aliases out of the kernel's module index files. Pure: text in,
 * records out. The files are large (a distribution modules.alias is about 1.4 MB and
 * 27,000 lines) and the helper runs under `node --jitless`, so the scan jumps between
 * occurrences of `vfio_pci:` with String#indexOf instead of walking every line in
 * JavaScript.
 */
import { compilePattern, PatternError } from "./fnmatch.js";

export const VFIO_ALIAS_PREFIX = "vfio_pci:";

/** Where an alias came from, so `explain` can point at it. */
export interface AliasOrigin {
  readonly file: string;
  /** 1-based line in a text file; absent for NUL-separated files. */
  readonly line?: number;
}

export interface VfioAlias {
  /** The whole pattern, `vfio_pci:` prefix included, as fnmatch sees it. */
  readonly pattern: string;
  /** Module name as modprobe takes it: depmod's spelling, `-` turned into `_`. */
  readonly module: string;
  readonly origin: AliasOrigin;
}

export interface SkippedLine {
  readonly origin: AliasOrigin;
  /** The start of the line, at most SKIPPED_TEXT_LENGTH characters (a line may be megabytes). */
  readonly text: string;
  readonly reason: string;
}

export interface AliasScan {
  readonly aliases: VfioAlias[];
  /** The first MAX_SKIPPED_DETAIL lines that mention `vfio_pci:` but are not well-formed alias records. */
  readonly skipped: SkippedLine[];
  /** How many such lines there were in all, kept in detail or not. */
  readonly skippedCount: number;
}

/** Skipped lines kept with their origin and reason; the rest are only counted (memory stays bounded). */
export const MAX_SKIPPED_DETAIL = 100;
/** How much of a skipped line is kept to show. */
export const SKIPPED_TEXT_LENGTH = 120;

/** Collects skipped lines: the first MAX_SKIPPED_DETAIL in detail, all of them counted. */
export class SkippedLines {
  readonly kept: SkippedLine[] = [];
  count = 0;

  add(origin: AliasOrigin, text: string, reason: string): void {
    this.count += 1;
    if (this.kept.length < MAX_SKIPPED_DETAIL) {
      this.kept.push({ origin, text: text.slice(0, SKIPPED_TEXT_LENGTH), reason });
    }
  }

  addAll(scan: AliasScan): void {
    for (const line of scan.skipped) {
      if (this.kept.length < MAX_SKIPPED_DETAIL) this.kept.push(line);
    }
    this.count += scan.skippedCount;
  }
}

const MODULE_NAME = /^[A-Za-z0-9_-]+$/;

export function normaliseModuleName(name: string): string {
  return name.replace(/-/g, "_");
}

/** Why a pattern cannot be used, or null when it compiles. */
function patternProblem(pattern: string): string | null {
  try {
    compilePattern(pattern);
    return null;
  } catch (error) {
    return error instanceof PatternError ? error.message : String(error);
  }
}

// A modalias is printable ASCII, so a pattern with anything else can never match; it is
// refused rather than carried into explain's output, where an escape sequence would reach
// the terminal.
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

function checkRecord(pattern: string, module: string): string | null {
  if (!pattern.startsWith(VFIO_ALIAS_PREFIX)) return `pattern does not start with ${VFIO_ALIAS_PREFIX}`;
  if (!PRINTABLE_ASCII.test(pattern)) return "pattern has characters other than printable ASCII";
  if (!MODULE_NAME.test(module)) return `module name ${JSON.stringify(module.slice(0, 64))} is not valid`;
  return patternProblem(pattern);
}

export interface ScanOptions {
  /**
   * Count lines so that origins carry line numbers. Counting visits every line, which
   * costs more than the rest of the scan under --jitless, so the udev path skips it.
   */
  readonly lineNumbers?: boolean;
}

/**
 * The records (lines, or NUL-separated modinfo entries) of an index file that contain `key`,
 * as latin1 text joined by `separator`: everything scanModulesAlias (without line numbers)
 * and scanBuiltinModinfo look at, found with the Buffer's native search. The udev helper
 * reads a 1.4 MB modules.alias on every event for a few dozen vfio_pci lines; decoding the
 * whole file into a string was most of that read's cost and memory.
 */
export function recordsWith(bytes: Buffer, key: string, separator: "\n" | "\0"): string {
  const sep = separator.charCodeAt(0);
  const records: string[] = [];
  let from = 0;
  for (;;) {
    const hit = bytes.indexOf(key, from, "latin1");
    if (hit < 0) break;
    const start = hit === 0 ? 0 : bytes.lastIndexOf(sep, hit - 1) + 1;
    let end = bytes.indexOf(sep, hit);
    if (end < 0) end = bytes.length;
    records.push(bytes.toString("latin1", start, end));
    from = end + 1;
  }
  return records.join(separator);
}

/**
 * Scans modules.alias text (`alias <pattern> <module>` lines, `#` comments). Lines that
 * mention `vfio_pci:` but do not parse are reported in `skipped`, never thrown.
 */
export function scanModulesAlias(text: string, file = "modules.alias", options: ScanOptions = {}): AliasScan {
  const countLines = options.lineNumbers ?? true;
  const aliases: VfioAlias[] = [];
  const skipped = new SkippedLines();
  let line = 1;
  let counted = 0; // offset up to which newlines have been counted into `line`
  let from = 0;
  for (;;) {
    const hit = text.indexOf(VFIO_ALIAS_PREFIX, from);
    if (hit < 0) break;
    const start = text.lastIndexOf("\n", hit) + 1;
    let end = text.indexOf("\n", hit);
    if (end < 0) end = text.length;
    if (countLines) {
      for (let nl = text.indexOf("\n", counted); nl >= 0 && nl < start; nl = text.indexOf("\n", nl + 1)) {
        line += 1;
      }
      counted = start;
    }
    from = end + 1;

    const raw = text.slice(start, end);
    const trimmed = raw.trim();
    if (trimmed.startsWith("#")) continue;
    const origin: AliasOrigin = countLines ? { file, line } : { file };
    const fields = trimmed.split(/\s+/);
    if (fields[0] !== "alias") {
      if (fields[0] === "softdep" || fields[0] === "options") continue; // not an alias line
      skipped.add(origin, raw, "not an alias line");
      continue;
    }
    if (fields.length !== 3) {
      skipped.add(origin, raw, `expected "alias <pattern> <module>", found ${fields.length} fields`);
      continue;
    }
    const [, pattern, module] = fields as [string, string, string];
    const problem = checkRecord(pattern, module);
    if (problem !== null) {
      skipped.add(origin, raw, problem);
      continue;
    }
    aliases.push({ pattern, module: normaliseModuleName(module), origin });
  }
  return { aliases, skipped: skipped.kept, skippedCount: skipped.count };
}

export const BUILTIN_ALIAS_KEY = `.alias=${VFIO_ALIAS_PREFIX}`;

/**
 * Scans modules.builtin.modinfo: NUL-separated `module.key=value` records, the only place
 * the aliases of built-in (`=y`) modules are written (Linux 6.18 on).
 */
export function scanBuiltinModinfo(text: string, file = "modules.builtin.modinfo"): AliasScan {
  const aliases: VfioAlias[] = [];
  const skipped = new SkippedLines();
  let from = 0;
  for (;;) {
    const hit = text.indexOf(BUILTIN_ALIAS_KEY, from);
    if (hit < 0) break;
    const start = text.lastIndexOf("\0", hit) + 1;
    let end = text.indexOf("\0", hit);
    if (end < 0) end = text.length;
    from = end + 1;
    const module = text.slice(start, hit);
    const pattern = text.slice(hit + ".alias=".length, end);
    const problem = checkRecord(pattern, module);
    if (problem !== null) {
      skipped.add({ file }, text.slice(start, Math.min(end, start + SKIPPED_TEXT_LENGTH)), problem);
      continue;
    }
    aliases.push({ pattern, module: normaliseModuleName(module), origin: { file } });
  }
  return { aliases, skipped: skipped.kept, skippedCount: skipped.count };
}

/** Module names listed in modules.builtin (`kernel/drivers/vfio/pci/vfio-pci.ko`). */
export function builtinModuleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const path of text.split("\n")) {
    const m = /([^/]+)\.ko$/.exec(path.trim());
    if (m !== null) names.add(normaliseModuleName(m[1] as string));
  }
  return names;
}

/** The generic vfio-pci catch-all, as depmod writes it for the vfio_pci module. */
export const GENERIC_VFIO_PATTERN = "vfio_pci:v*d*sv*sd*bc*sc*i*";
export const GENERIC_VFIO_MODULE = "vfio_pci";
/**
 * The PCI driver the generic module registers (drivers/vfio/pci/vfio_pci.c, `.name =
 * "vfio-pci"` since Linux 3.6). Every other module's driver name is learnt from
 * /sys/module once it is loaded; this one is known before it ever is.
 */
export const GENERIC_VFIO_DRIVER = "vfio-pci";
