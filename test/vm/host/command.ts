/** Running host commands (argument vectors, never a shell) and timing the phases of a run. */
import { execa, type Options } from "execa";

export interface PhaseTime {
  readonly name: string;
  readonly seconds: number;
}

/** Wall time of every phase of this run, printed as it goes and kept for the report. */
export const phaseTimes: PhaseTime[] = [];

export function say(line: string): void {
  process.stdout.write(`[vm] ${line}\n`);
}

export async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  say(`${name} ...`);
  const result = await work();
  const seconds = (Date.now() - started) / 1000;
  phaseTimes.push({ name, seconds });
  say(`${name}: ${seconds.toFixed(1)} s`);
  return result;
}

/** Runs a command; a failure names the command and shows the end of what it printed. */
export async function run(file: string, args: readonly string[], options: Options = {}): Promise<string> {
  const result = await execa(file, args, { reject: false, all: true, ...options });
  if (result.exitCode !== 0 || result.failed) {
    const tail = String(result.all ?? "")
      .split("\n")
      .slice(-30)
      .join("\n");
    throw new Error(
      `${[file, ...args].join(" ")} failed (${result.shortMessage ?? `exit ${result.exitCode}`})\n${tail}`,
    );
  }
  return String(result.stdout ?? "");
}
