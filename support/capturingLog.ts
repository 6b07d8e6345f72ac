/** A DecisionLog that keeps each line as `info ...` or `error ...`, for tests of the udev helper. */
import type { DecisionLog } from "../src/journal/decisionLog.js";

export function capturingLog(): DecisionLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => void lines.push(`info ${message}`),
    error: (message) => void lines.push(`error ${message}`),
    close: () => Promise.resolve(),
  };
}
