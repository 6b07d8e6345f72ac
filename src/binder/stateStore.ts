/**
 * What vfio-autobind did to each device, one JSON file per device under
 * `<state-dir>/devices/`, so `release` can put back exactly what was there. Written
 * atomically (temporary file, fsync, rename; never through a symlink): a crash leaves the
 * old record or the new one, never half of either.
 *
 * A record is data read back from disk, so it is checked like user input: every name in
 * it must fit the pattern its kind has before it can become part of a path or a write.
 */
import * as fs from "node:fs";
import { describeFsError, errnoCode, RuntimeFailure } from "../errors.js";
import { readOptionalRegularFile, writeFileAtomic } from "../files/safeFiles.js";
import { isSafeDriverName, isSafeModuleName, isSafePciAddress, statePaths } from "../paths.js";

export interface BindRecord {
  readonly version: 1;
  readonly address: string;
  /** `binding` is written before the first change; `bound` once the read-back confirmed it. */
  readonly status: "binding" | "bound";
  readonly originalDriver: string | null;
  readonly originalOverride: string | null;
  readonly module: string | null;
  readonly driver: string | null;
  readonly time: string;
  /**
   * The device was held for vfio-autobind (the udev rules or the boot-time hold) when it was
   * taken, so without us the kernel would have probed it: giving it back clears the
   * override and lets the kernel choose, instead of leaving it unbound. Absent: false.
   */
  readonly held?: true;
}

export class StateError extends RuntimeFailure {
  override readonly name = "StateError";
}

export function recordFile(stateDir: string, address: string): string {
  return statePaths(stateDir).record(address);
}

/** A record is a few hundred bytes; anything much larger is not one of ours. */
const MAX_RECORD_BYTES = 64 * 1024;

/** What driver_override may hold to be written back: printable, one line, as the kernel keeps it. */
const OVERRIDE_VALUE = /^[\x21-\x7e]{1,255}$/;

/** `status` prints the time as it is: only what toISOString() writes. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

function isBindRecord(value: unknown): value is BindRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  const nullableName = (v: unknown, isSafe: (name: string) => boolean): boolean =>
    v === null || (typeof v === "string" && isSafe(v));
  return (
    r["version"] === 1 &&
    typeof r["address"] === "string" &&
    isSafePciAddress(r["address"]) &&
    (r["status"] === "binding" || r["status"] === "bound") &&
    nullableName(r["originalDriver"], isSafeDriverName) &&
    nullableName(r["originalOverride"], (v) => OVERRIDE_VALUE.test(v)) &&
    nullableName(r["module"], isSafeModuleName) &&
    nullableName(r["driver"], isSafeDriverName) &&
    typeof r["time"] === "string" &&
    ISO_TIME.test(r["time"]) &&
    (r["held"] === undefined || r["held"] === true)
  );
}

export function readRecord(stateDir: string, address: string): BindRecord | null {
  const file = recordFile(stateDir, address);
  let text: string | null;
  try {
    text = readOptionalRegularFile(file, { maxBytes: MAX_RECORD_BYTES });
  } catch (error) {
    throw new StateError(
      `${error instanceof Error ? error.message : String(error)}; move it away and check the device by hand`,
    );
  }
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StateError(`${file}: not valid JSON; move it away and check the device by hand`);
  }
  if (!isBindRecord(parsed) || parsed.address !== address) {
    throw new StateError(
      `${file}: not a valid vfio-autobind record for ${address}; move it away and check the device by hand`,
    );
  }
  return parsed;
}

export function writeRecord(stateDir: string, record: BindRecord): void {
  const file = recordFile(stateDir, record.address);
  try {
    writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644, dirMode: 0o755 });
  } catch (error) {
    throw new StateError(error instanceof Error ? error.message : String(error));
  }
}

export function removeRecord(stateDir: string, address: string): void {
  const file = recordFile(stateDir, address);
  try {
    fs.rmSync(file, { force: true });
  } catch (error) {
    throw new StateError(`cannot remove ${file}: ${describeFsError(error)}`);
  }
}

/** Every record, in file name order; unreadable ones are reported, not fatal. */
export function listRecords(stateDir: string): { records: BindRecord[]; problems: string[] } {
  const dir = statePaths(stateDir).devices;
  let names: string[];
  try {
    names = fs
      .readdirSync(dir)
      .filter((name) => name.endsWith(".json"))
      .sort();
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { records: [], problems: [] };
    return { records: [], problems: [`cannot list ${dir}: ${describeFsError(error)}`] };
  }
  const records: BindRecord[] = [];
  const problems: string[] = [];
  for (const name of names) {
    try {
      const record = readRecord(stateDir, name.slice(0, -".json".length));
      if (record !== null) records.push(record);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { records, problems };
}
