/**
 * The claims file format and its parser. Pure: text in, claims and errors out.
 *
 * A systemd-style INI (as in unit files and NetworkManager), chosen over TOML because every
 * admin who edits unit files already knows it, and because a parser written for it can
 * point at the exact line of every mistake, semantic ones included (a TOML library
 * reports syntax errors with positions, but not "this Ids= value is wrong"). It is small
 * enough that writing it here is less code than adapting a library's output.
 *
 *   [Claim]                      one set of devices for VFIO; several sections are ORed
 *   Address=0000:3b:00.*         keys in one section must all match (AND);
 *   Ids=15b3:101e                space-separated values in one key are alternatives (OR)
 *   Driver=auto
 *   Move=auto                    moves to a better driver installed later: auto | apply
 *   [Exclude]                    never bind these, whatever claims them
 *   Address=0000:3b:00.7
 *
 * Messages never echo a line whole (a symlinked secret file would leak into the journal):
 * they name key names that fit KEY_TOKEN as they are, and quote every value, escaped and
 * cut short, through quoteForDisplay.
 */
import { compilePattern, PatternError } from "../alias/fnmatch.js";
import { formatPciAddress, parsePciAddress } from "../sysfs/pciAddress.js";
import { quoteForDisplay } from "../text/safeText.js";
import { modeRefusal, parseMode, parseOwner, type NodeOwner } from "./nodeAccess.js";

export interface IdSelector {
  readonly vendor: string;
  readonly device: string;
  readonly subsystemVendor?: string;
  readonly subsystemDevice?: string;
}

/** A class code prefix: 2 (base class), 4 (base + subclass) or 6 hex digits. */
export type ClassSelector = string;

export interface Selectors {
  /** Address globs in sysfs form (`0000:3b:00.*`). */
  readonly addresses: readonly string[];
  readonly ids: readonly IdSelector[];
  readonly classes: readonly ClassSelector[];
  /** PF addresses whose VFs are selected. */
  readonly vfsOf: readonly string[];
}

export type GroupPolicy = "ignore" | "check" | "bind";

/**
 * When a device on a VFIO driver moves to a better one that was installed since:
 *   auto   as soon as vfio-autobind notices the new driver (a package, DKMS, depmod), if
 *          no process holds the device;
 *   apply  only when an admin runs `vfio-autobind apply` (or `bind`).
 */
export type MovePolicy = "auto" | "apply";

export interface Origin {
  readonly file: string;
  readonly line: number;
}

export interface Claim {
  readonly origin: Origin;
  readonly selectors: Selectors;
  /** `auto`, or a module or driver name that pins the driver. */
  readonly driver: string;
  readonly group: GroupPolicy;
  readonly move: MovePolicy;
  readonly force: boolean;
  /** Owner= of the device's VFIO nodes (`/dev/vfio/<group>`, its cdev); null: udev's default. */
  readonly owner: NodeOwner | null;
  /** Mode= of those nodes, four octal digits (`0660`); null: udev's default. */
  readonly mode: string | null;
  /** The lines Owner= and Mode= are on, for errors about them (0: not given). */
  readonly ownershipLine: number;
}

export interface Exclusion {
  readonly origin: Origin;
  readonly selectors: Selectors;
}

export interface ConfigError extends Origin {
  readonly message: string;
}

export interface ClaimConfig {
  readonly claims: readonly Claim[];
  readonly exclusions: readonly Exclusion[];
  readonly errors: readonly ConfigError[];
}

/** The keys of a section, in the order messages list them; vfio-autobind.conf(5) documents each. */
export const SELECTOR_KEYS = ["Address", "Ids", "Class", "VfsOf"] as const;
export const OPTION_KEYS = ["Driver", "Group", "Move", "Force", "Owner", "Mode"] as const;
type SelectorKey = (typeof SELECTOR_KEYS)[number];
type OptionKey = (typeof OPTION_KEYS)[number];

const HEX4 = "[0-9a-fA-F]{4}";
const ID_SELECTOR = new RegExp(`^(${HEX4}):(${HEX4})(?::(${HEX4}):(${HEX4}))?$`);
const CLASS_SELECTOR = /^(?:0x)?((?:[0-9a-fA-F]{2}){1,3})$/;
const NAME = /^[A-Za-z0-9_-]+$/;
const ADDRESS_GLOB = /^[0-9a-fA-F*?[\]!:.-]+$/;

/**
 * An address glob goes into the udev rules too, where udev matches it with glibc's
 * fnmatch, which backtracks on every `*`. One `*` per address field (domain, bus, device,
 * function) is all a glob needs; more is refused, as is anything longer than a glob of an
 * address can usefully be.
 */
export const MAX_ADDRESS_GLOB_STARS = 4;
export const MAX_ADDRESS_GLOB_LENGTH = 64;

/** Why an address glob is refused outright, or null. */
export function addressGlobProblem(text: string): string | null {
  if (text.length > MAX_ADDRESS_GLOB_LENGTH) {
    return `an address glob is at most ${MAX_ADDRESS_GLOB_LENGTH} characters`;
  }
  const stars = text.split("*").length - 1;
  if (stars > MAX_ADDRESS_GLOB_STARS) {
    return `an address glob has at most ${MAX_ADDRESS_GLOB_STARS} "*" (one per field), not ${stars}`;
  }
  return null;
}

/** `0000:3b:00.2`, `3b:00.2`, or a glob of either (`0000:3b:00.*`, `3b:0[01].*`). */
export function parseAddressSelector(text: string): string | null {
  const exact = parsePciAddress(text);
  if (exact !== null) return formatPciAddress(exact);
  if (!/[*?[]/.test(text) || !ADDRESS_GLOB.test(text) || !text.includes(":")) return null;
  if (addressGlobProblem(text) !== null) return null;
  const glob = (text.split(":").length === 2 ? `0000:${text}` : text).toLowerCase();
  try {
    compilePattern(glob);
  } catch (error) {
    if (error instanceof PatternError) return null;
    throw error;
  }
  return glob;
}

export function parseIdSelector(text: string): IdSelector | null {
  const m = ID_SELECTOR.exec(text);
  if (m === null) return null;
  const lower = (s: string | undefined): string | undefined => s?.toLowerCase();
  return {
    vendor: lower(m[1]) as string,
    device: lower(m[2]) as string,
    ...(m[3] !== undefined ? { subsystemVendor: lower(m[3]) as string, subsystemDevice: lower(m[4]) as string } : {}),
  };
}

export function parseClassSelector(text: string): ClassSelector | null {
  const m = CLASS_SELECTOR.exec(text);
  return m === null ? null : (m[1] as string).toLowerCase();
}

export function parsePfSelector(text: string): string | null {
  const address = parsePciAddress(text);
  return address === null ? null : formatPciAddress(address);
}

// A Map, not an object literal: `Force=constructor` must not find Object's prototype.
const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ["yes", true],
  ["true", true],
  ["on", true],
  ["1", true],
  ["no", false],
  ["false", false],
  ["off", false],
  ["0", false],
]);

/** Key names are letters; a longer run of them is still not echoed whole. */
const KEY_TOKEN = /^[A-Za-z]{1,32}$/;

/** A key name as messages show it: itself when it is a plausible key, quoted and cut otherwise. */
function showKey(key: string): string {
  return KEY_TOKEN.test(key) ? key : quoteForDisplay(key, 32);
}

interface SectionDraft {
  kind: "Claim" | "Exclude";
  origin: Origin;
  selectors: { addresses: string[]; ids: IdSelector[]; classes: string[]; vfsOf: string[] };
  options: Partial<Record<OptionKey, { value: string; line: number }>>;
  seen: Set<SelectorKey>;
}

const SELECTOR_PARSERS: Record<
  SelectorKey,
  { parse: (v: string) => unknown; expected: string; field: keyof SectionDraft["selectors"] }
> = {
  Address: {
    parse: parseAddressSelector,
    expected: "a PCI address such as 0000:3b:00.2 or a glob such as 0000:3b:00.*",
    field: "addresses",
  },
  Ids: {
    parse: parseIdSelector,
    expected: "vendor:device or vendor:device:subvendor:subdevice in hex, such as 15b3:101e",
    field: "ids",
  },
  Class: {
    parse: parseClassSelector,
    expected: "a class code of 2, 4 or 6 hex digits, such as 0x02, 0x0302 or 0x010802",
    field: "classes",
  },
  VfsOf: {
    parse: parsePfSelector,
    expected: "the PCI address of a physical function, such as 0000:3b:00.0",
    field: "vfsOf",
  },
};

export function parseClaimFile(text: string, file: string): ClaimConfig {
  const claims: Claim[] = [];
  const exclusions: Exclusion[] = [];
  const errors: ConfigError[] = [];
  let section: SectionDraft | null = null;
  let inUnknownSection = false;

  const error = (line: number, message: string): void => {
    errors.push({ file, line, message });
  };

  const finish = (draft: SectionDraft | null): void => {
    if (draft === null) return;
    if (draft.seen.size === 0) {
      error(draft.origin.line, `[${draft.kind}] selects nothing: give at least one of Address=, Ids=, Class=, VfsOf=`);
      return;
    }
    // Every value it gave was wrong (each one is an error already): a section left with no
    // selector would select every device, so it is dropped rather than kept empty.
    const { addresses, ids, classes, vfsOf } = draft.selectors;
    if (addresses.length + ids.length + classes.length + vfsOf.length === 0) return;
    if (draft.kind === "Exclude") {
      exclusions.push({ origin: draft.origin, selectors: draft.selectors });
      return;
    }
    const driver = draft.options.Driver?.value ?? "auto";
    const group = (draft.options.Group?.value ?? "check") as GroupPolicy;
    const forceText = draft.options.Force?.value;
    claims.push({
      origin: draft.origin,
      selectors: draft.selectors,
      driver,
      group,
      move: (draft.options.Move?.value ?? "auto") as MovePolicy,
      force: forceText === undefined ? false : (BOOLEANS.get(forceText.toLowerCase()) ?? false),
      owner: draft.options.Owner === undefined ? null : parseOwner(draft.options.Owner.value),
      mode: draft.options.Mode === undefined ? null : parseMode(draft.options.Mode.value),
      ownershipLine: draft.options.Owner?.line ?? draft.options.Mode?.line ?? 0,
    });
  };

  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = index + 1;
    const text = raw.trim();
    if (text === "" || text.startsWith("#") || text.startsWith(";")) return;
    const header = /^\[([^\]]*)\]$/.exec(text);
    if (header !== null) {
      finish(section);
      section = null;
      const name = header[1] as string;
      if (name === "Claim" || name === "Exclude") {
        inUnknownSection = false;
        section = {
          kind: name,
          origin: { file, line },
          selectors: { addresses: [], ids: [], classes: [], vfsOf: [] },
          options: {},
          seen: new Set(),
        };
      } else {
        inUnknownSection = true;
        // Named only when it looks like a section name: a header line of a file that was
        // never a claim file (a symlinked secret) is not echoed.
        const shown = KEY_TOKEN.test(name) ? ` [${name}]` : "";
        error(line, `unknown section${shown}; expected [Claim] or [Exclude]`);
      }
      return;
    }
    const assignment = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(text);
    if (assignment === null) {
      // The line itself is not shown: it may be a line of a file that was never a claim file.
      error(line, "expected Key=Value, a [Section] header or a # comment");
      return;
    }
    if (inUnknownSection) return; // already reported at the header
    const current = section;
    const key = assignment[1] as string;
    const value = (assignment[2] as string).trim();
    if (current === null) {
      error(line, `${showKey(key)}= outside any section; put it under [Claim] or [Exclude]`);
      return;
    }
    if ((SELECTOR_KEYS as readonly string[]).includes(key)) {
      const selector = SELECTOR_PARSERS[key as SelectorKey];
      const values = value.split(/\s+/).filter((v) => v !== "");
      if (values.length === 0) error(line, `${key}= is empty; expected ${selector.expected}`);
      for (const item of values) {
        const globProblem = key === "Address" && /[*?[]/.test(item) ? addressGlobProblem(item) : null;
        if (globProblem !== null) {
          error(line, `${key}=${quoteForDisplay(item)}: ${globProblem}`);
          continue;
        }
        const parsed = selector.parse(item);
        if (parsed === null) error(line, `${key}=${quoteForDisplay(item)}: expected ${selector.expected}`);
        else (current.selectors[selector.field] as unknown[]).push(parsed);
      }
      current.seen.add(key as SelectorKey);
      return;
    }
    if ((OPTION_KEYS as readonly string[]).includes(key)) {
      if (current.kind === "Exclude") {
        error(line, `${key}= has no meaning in [Exclude]; it only takes Address=, Ids=, Class=, VfsOf=`);
        return;
      }
      const previous = current.options[key as OptionKey];
      if (previous !== undefined) {
        error(line, `${key}= is given twice in this [Claim] (first on line ${previous.line})`);
        return;
      }
      const problem = optionProblem(key as OptionKey, value);
      if (problem !== null) {
        error(line, problem);
        return;
      }
      current.options[key as OptionKey] = { value, line };
      return;
    }
    error(
      line,
      `unknown key ${showKey(key)}=; a [${current.kind}] takes ${[...SELECTOR_KEYS, ...(current.kind === "Claim" ? OPTION_KEYS : [])].map((k) => `${k}=`).join(", ")}`,
    );
  });
  finish(section);
  return { claims, exclusions, errors };
}

function optionProblem(key: OptionKey, value: string): string | null {
  switch (key) {
    case "Driver":
      return value === "auto" || NAME.test(value)
        ? null
        : `Driver=${quoteForDisplay(value)}: expected auto or a module or driver name such as vfio_pci or vfio-pci`;
    case "Group":
      return ["ignore", "check", "bind"].includes(value)
        ? null
        : `Group=${quoteForDisplay(value)}: expected ignore, check or bind`;
    case "Move":
      return ["auto", "apply"].includes(value) ? null : `Move=${quoteForDisplay(value)}: expected auto or apply`;
    case "Force":
      return BOOLEANS.has(value.toLowerCase()) ? null : `Force=${quoteForDisplay(value)}: expected yes or no`;
    case "Owner":
      return parseOwner(value) !== null
        ? null
        : `Owner=${quoteForDisplay(value)}: expected USER or USER:GROUP, as names or numbers, such as qemu:kvm or 107:107`;
    case "Mode": {
      const mode = parseMode(value);
      if (mode === null) return `Mode=${quoteForDisplay(value)}: expected an octal mode such as 0660 or 0600`;
      const refusal = modeRefusal(mode);
      return refusal === null ? null : `Mode=${quoteForDisplay(value)}: ${refusal}`;
    }
  }
}

/**
 * All files of a config directory, in the order they are read: by `order` (a file's name in
 * the directory, which a staged file is given), else by `name` (the path messages name).
 */
export function mergeClaimFiles(files: readonly { name: string; text: string; order?: string }[]): ClaimConfig {
  const key = (f: { name: string; order?: string }): string => f.order ?? f.name;
  const parsed = [...files]
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .map((f) => parseClaimFile(f.text, f.name));
  return {
    claims: parsed.flatMap((p) => p.claims),
    exclusions: parsed.flatMap((p) => p.exclusions),
    errors: parsed.flatMap((p) => p.errors),
  };
}

/** `file:line: message`; errors about a whole file (line 0) name the file alone. */
export function formatConfigError(error: ConfigError): string {
  return error.line > 0 ? `${error.file}:${error.line}: ${error.message}` : `${error.file}: ${error.message}`;
}
