/**
 * What the udev helper needs of its own process: the clock its deadline runs on, word of
 * anything that is about to end it (udevd's SIGTERM at its event timeout, SIGINT, SIGHUP, an
 * error nothing caught), and a way to exit. The real process in production; tests give a
 * stand-in, so that a signal can arrive at any step of a run inside the test.
 */

/** The signals that end a process unless it catches them, and that udevd or a shutdown send. */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

export interface HelperProcess {
  /** Milliseconds since the process started. */
  uptimeMs(): number;
  /** Calls `stop` with the cause when something is about to end the process; returns the undo. */
  onStop(stop: (cause: string) => void): () => void;
  exit(code: number): void;
}

export const NODE_PROCESS: HelperProcess = {
  // As performance.now() counts; the global `performance` would load perf_hooks (eight
  // modules) into every event for one number.
  uptimeMs: () => process.uptime() * 1000,
  onStop(stop) {
    const onSignal = (signal: NodeJS.Signals): void => stop(signal);
    const onError = (error: unknown): void =>
      stop(`an unexpected error (${error instanceof Error ? error.message : String(error)})`);
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    process.on("uncaughtException", onError);
    return () => {
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
      process.off("uncaughtException", onError);
    };
  },
  exit: (code) => process.exit(code),
};
