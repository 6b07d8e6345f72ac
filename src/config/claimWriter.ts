/**
 * What `claim` writes: one drop-in file per claim made from the command line, named after
 * its first selector, so that `unclaim` with the same selectors finds it again. Pure.
 *
 * Every value is checked with the config parser's own patterns before it is written (the
 * file holds the canonical form), the `# Written by:` line is the command rebuilt from
 * those values (never the raw argv, which could hold a newline and a second section), and
 * the text must parse back to exactly the one section asked for.
 */
import { isSafeDriverName } from "../paths.js";
import { controlCharacterAt, quoteForDisplay } from "../text/safeText.js";
import { UsageError } from "../errors.js";
import {
  parseAddressSelector,
  parseClaimFile,
  parseClassSelector,
  parseIdSelector,
  parsePfSelector,
  type IdSelector,
  type Selectors,
} from "./claimConfig.js";
import { modeRefusal, parseMode, parseOwner, type NodeOwner } from "./nodeAccess.js";

export interface ClaimRequest {
  readonly addresses: readonly string[];
  readonly ids: readonly string[];
  readonly classes: readonly string[];
  readonly vfsOf: readonly string[];
  readonly exclude: boolean;
  readonly driver?: string;
  readonly group?: string;
  readonly force: boolean;
  /** --owner USER[:GROUP] and --mode: Owner= and Mode= of the device's VFIO nodes. */
  readonly owner?: string;
  readonly mode?: string;
}

export function claimFileName(request: ClaimRequest): string {
  const first =
    [
      ...request.addresses,
      ...request.vfsOf.map((pf) => `vfs-of-${pf}`),
      ...request.ids,
      ...request.classes.map((c) => `class-${c}`),
    ][0] ?? "empty";
  const slug = first
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return `50-${request.exclude ? "exclude" : "claim"}-${slug}.conf`;
}

/** The request with every value checked and in canonical form. */
interface CheckedRequest {
  readonly selectors: Selectors;
  readonly exclude: boolean;
  readonly driver: string | undefined;
  readonly group: string | undefined;
  readonly force: boolean;
  readonly owner: NodeOwner | undefined;
  readonly mode: string | undefined;
}

const GROUPS = ["ignore", "check", "bind"];

function checked<T>(values: readonly string[], parse: (v: string) => T | null, option: string, expected: string): T[] {
  return values.map((value) => {
    const parsed = parse(value);
    if (parsed === null) throw new UsageError(`${option}${quoteForDisplay(value)}: expected ${expected}`);
    return parsed;
  });
}

function checkRequest(request: ClaimRequest): CheckedRequest {
  const selectors: Selectors = {
    addresses: checked(request.addresses, parseAddressSelector, "", "a PCI address such as 0000:3b:00.2 or a glob"),
    ids: checked(request.ids, parseIdSelector, "--ids ", "vendor:device[:subvendor:subdevice] in hex"),
    classes: checked(request.classes, parseClassSelector, "--class ", "a class code such as 0x02, 0x0302, 0x010802"),
    vfsOf: checked(request.vfsOf, parsePfSelector, "--vfs-of ", "the PCI address of a physical function"),
  };
  const { driver, group } = request;
  if (driver !== undefined && driver !== "auto" && !isSafeDriverName(driver))
    throw new UsageError(
      `--driver ${quoteForDisplay(driver)}: expected auto or a module or driver name such as vfio-pci`,
    );
  if (group !== undefined && !GROUPS.includes(group))
    throw new UsageError(`--group ${quoteForDisplay(group)}: expected ignore, check or bind`);
  const owner = request.owner === undefined ? undefined : parseOwner(request.owner);
  if (owner === null)
    throw new UsageError(
      `--owner ${quoteForDisplay(request.owner ?? "")}: expected USER or USER:GROUP, as names or numbers`,
    );
  const mode = request.mode === undefined ? undefined : parseMode(request.mode);
  if (mode === null)
    throw new UsageError(`--mode ${quoteForDisplay(request.mode ?? "")}: expected an octal mode such as 0660`);
  const modeRefused = mode === undefined ? null : modeRefusal(mode);
  if (modeRefused !== null) throw new UsageError(`--mode ${quoteForDisplay(request.mode ?? "")}: ${modeRefused}`);
  if (request.exclude && (owner !== undefined || mode !== undefined))
    throw new UsageError("--owner and --mode have no meaning with --exclude");
  return { selectors, exclude: request.exclude, driver, group, force: request.force, owner, mode };
}

const idText = (id: IdSelector): string =>
  [id.vendor, id.device, ...(id.subsystemVendor === undefined ? [] : [id.subsystemVendor, id.subsystemDevice])].join(
    ":",
  );

const ownerText = (o: NodeOwner): string => (o.group === null ? o.user : `${o.user}:${o.group}`);

/** The command that makes this claim, from checked values only. */
function commandFor(c: CheckedRequest): string {
  const s = c.selectors;
  return [
    "vfio-autobind claim",
    ...(c.exclude ? ["--exclude"] : []),
    ...s.addresses,
    ...s.ids.map((id) => `--ids ${idText(id)}`),
    ...s.classes.map((cls) => `--class 0x${cls}`),
    ...s.vfsOf.map((pf) => `--vfs-of ${pf}`),
    ...(c.exclude || c.driver === undefined ? [] : [`--driver ${c.driver}`]),
    ...(c.exclude || c.group === undefined ? [] : [`--group ${c.group}`]),
    ...(!c.exclude && c.force ? ["--force"] : []),
    ...(c.owner === undefined ? [] : [`--owner ${ownerText(c.owner)}`]),
    ...(c.mode === undefined ? [] : [`--mode ${c.mode}`]),
  ].join(" ");
}

/** Throws UsageError unless `text` parses to exactly the one section `c` asks for. */
function proveParsesBack(text: string, c: CheckedRequest): void {
  const parsed = parseClaimFile(text, "(command line)");
  if (parsed.errors.length > 0) throw new UsageError(parsed.errors.map((e) => e.message).join("; "));
  const sections = [...parsed.claims, ...parsed.exclusions];
  const section = c.exclude ? parsed.exclusions[0] : parsed.claims[0];
  const claim = parsed.claims[0];
  const same =
    sections.length === 1 &&
    section !== undefined &&
    JSON.stringify(section.selectors) === JSON.stringify(c.selectors) &&
    (c.exclude ||
      (claim !== undefined &&
        claim.driver === (c.driver ?? "auto") &&
        claim.group === (c.group ?? "check") &&
        claim.force === c.force &&
        JSON.stringify(claim.owner) === JSON.stringify(c.owner ?? null) &&
        claim.mode === (c.mode ?? null)));
  if (!same) throw new UsageError("these selectors and options cannot be written as one claim file; nothing written");
}

/** The claim file's text; throws UsageError naming the argument that cannot be written. */
export function claimFileText(request: ClaimRequest): string {
  const c = checkRequest(request);
  const s = c.selectors;
  const lines = [
    `# Written by: ${commandFor(c)}`,
    `# Remove with "vfio-autobind unclaim" and the same selectors, or edit by hand and run "vfio-autobind apply".`,
  ];
  lines.push(c.exclude ? "[Exclude]" : "[Claim]");
  if (s.addresses.length > 0) lines.push(`Address=${s.addresses.join(" ")}`);
  if (s.ids.length > 0) lines.push(`Ids=${s.ids.map(idText).join(" ")}`);
  if (s.classes.length > 0) lines.push(`Class=${s.classes.map((cls) => `0x${cls}`).join(" ")}`);
  if (s.vfsOf.length > 0) lines.push(`VfsOf=${s.vfsOf.join(" ")}`);
  if (!c.exclude) {
    if (c.driver !== undefined) lines.push(`Driver=${c.driver}`);
    if (c.group !== undefined) lines.push(`Group=${c.group}`);
    if (c.force) lines.push("Force=yes");
    if (c.owner !== undefined) lines.push(`Owner=${ownerText(c.owner)}`);
    if (c.mode !== undefined) lines.push(`Mode=${c.mode}`);
  }
  const text = `${lines.join("\n")}\n`;
  // Every value above passed a strict pattern; this only guards the patterns themselves.
  if (controlCharacterAt(text) >= 0) throw new UsageError("a value holds a control character; nothing written");
  proveParsesBack(text, c);
  return text;
}
