/**
 * What vfio-autobind did to each device, one JSON file per device under
 * `<state-dir>/devices/`, so `release` can put back exactly what was there. Written
 * atomically (temporary file, fsync, rename): a crash leaves the old record or the new
 * one, never half of either.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeFsError, errnoCode, RuntimeFailure } from "../errors.js";
import { statePaths } from "../paths.js";

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
}

export class StateError extends RuntimeFailure {
  override readonly name = "StateError";
}

export function recordFile(stateDir: string, address: string): string {
  return statePaths(stateDir).record(address);
}

function isBindRecord(value: unknown): value is BindRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  const nullableString = (v: unknown): boolean => v === null || typeof v === "string";
  return (
    r["version"] === 1 &&
    typeof r["address"] === "string" &&
    (r["status"] === "binding" || r["status"] === "bound") &&
    nullableString(r["originalDriver"]) &&
    nullableString(r["originalOverride"]) &&
    nullableString(r["module"]) &&
    nullableString(r["driver"]) &&
    typeof r["time"] === "string"
  );
}

export function readRecord(stateDir: string, address: string): BindRecord | null {
  const file = recordFile(stateDir, address);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return null;
    throw new StateError(`cannot read ${file}: ${describeFsError(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StateError(`${file}: not valid JSON; move it away and check the device by hand`);
  }
  if (!isBindRecord(parsed) || parsed.address !== address) {
    throw new StateError(
      `${file}: not a vfio-autobind record for ${address}; move it away and check the device by hand`,
    );
  }
  return parsed;
}

export function writeRecord(stateDir: string, record: BindRecord): void {
  const file = recordFile(stateDir, record.address);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    const fd = fs.openSync(temporary, "w", 0o644);
    try {
      fs.writeSync(fd, `${JSON.stringify(record, null, 2)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch (error) {
    try {
      fs.rmSync(temporary, { force: true });
    } catch {
      // the original error is the one worth reporting
    }
    throw new StateError(`cannot write ${file}: ${describeFsError(error)}`);
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
