/**
 * A child process with an argument vector (never a shell) and a deadline, on
 * node:child_process alone. The udev helper's children, modprobe and flock(1) for the lock,
 * go through here and not through execa: under `node --jitless`
 * loading execa costs about 30 ms, and merely having it in the udev part of the bundle
 * costs every event about 3 ms of parsing (build.mjs). The command line keeps execa
 * (src/process/lazyExeca.ts). node:child_process itself is loaded on first use
 * (lazyBuiltins.ts): most events start no process at all.
 */
import { loadChildProcess } from "./lazyBuiltins.js";

export interface CommandResult {
  /** The exit status, or undefined when killed by a signal or never started. */
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  /** Set when the command could not be started: ENOENT, EACCES. */
  readonly spawnError: string | undefined;
  readonly timedOut: boolean;
  /** Its standard error, cut to the last 64 KiB (enough for any error it prints). */
  readonly stderr: string;
  /** One line saying how it failed, for when stderr says nothing; "" when it succeeded. */
  readonly shortMessage: string;
}

const STDERR_KEEP = 64 * 1024;
/** After the deadline: SIGTERM, then SIGKILL this much later if it is still there (as execa does). */
const FORCE_KILL_AFTER_MS = 5_000;

export async function runCommand(
  file: string,
  args: readonly string[],
  options: {
    timeoutMs: number;
    /** A descriptor of ours that the command gets as its fd 3 (flock(1) locks it for us). */
    fd3?: number;
  },
): Promise<CommandResult> {
  const { spawn } = loadChildProcess();
  const command = [file, ...args].join(" ");
  return new Promise((resolve) => {
    let stderr = "";
    let timedOut = false;
    let spawnError: string | undefined;
    let forceKill: NodeJS.Timeout | undefined;
    const child = spawn(file, [...args], {
      stdio: ["ignore", "ignore", "pipe", ...(options.fd3 !== undefined ? [options.fd3] : [])],
      shell: false,
    });
    const stderrStream = child.stderr as NonNullable<typeof child.stderr>; // "pipe" above
    stderrStream.setEncoding("utf8");
    stderrStream.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      forceKill = setTimeout(() => child.kill("SIGKILL"), FORCE_KILL_AFTER_MS);
    }, options.timeoutMs);
    child.on("error", (error: NodeJS.ErrnoException) => {
      spawnError = error.code ?? error.message;
    });
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(deadline);
      if (forceKill !== undefined) clearTimeout(forceKill);
      const exitCode = code ?? undefined;
      const killedBy = signal ?? undefined;
      let shortMessage = "";
      if (spawnError !== undefined) shortMessage = `Command failed with ${spawnError}: ${command}`;
      else if (timedOut) shortMessage = `Command timed out after ${options.timeoutMs} milliseconds: ${command}`;
      else if (killedBy !== undefined) shortMessage = `Command was killed with ${killedBy}: ${command}`;
      else if (exitCode !== 0) shortMessage = `Command failed with exit code ${String(exitCode)}: ${command}`;
      resolve({ exitCode, signal: killedBy, spawnError, timedOut, stderr, shortMessage });
    });
  });
}

/** True when the command ran and exited 0. */
export const succeededCommand = (result: CommandResult): boolean => result.shortMessage === "";
