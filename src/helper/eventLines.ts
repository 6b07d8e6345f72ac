/**
 * The event's journal lines, held back until the event ends, so that what ended it, and
 * what the last resort did then, goes on the device's own line: one line per event, however
 * it ended. They are held for no longer than the event's last steps.
 */
import type { DecisionLog } from "../journal/decisionLog.js";

interface Line {
  readonly error: boolean;
  readonly text: string;
}

export interface EventLines extends DecisionLog {
  /**
   * Writes the lines to `log`: `note` added to the first line about `address` (which then
   * reads as an error), or `ownLine` when there is no such line. Lines after that are
   * dropped: they come from steps still under way when a signal ended the event, which the
   * event's line has already spoken for.
   */
  flush(log: DecisionLog, address: string, note: string | null, ownLine: string | null): void;
}

export function eventLines(): EventLines {
  const lines: Line[] = [];
  let flushed = false;
  return {
    info: (text) => void (flushed || lines.push({ error: false, text })),
    error: (text) => void (flushed || lines.push({ error: true, text })),
    close: () => Promise.resolve(),
    flush(log, address, note, ownLine) {
      if (flushed) return;
      flushed = true;
      const at = lines.findIndex((line) => line.text.startsWith(`${address}: `));
      if (at < 0 && ownLine !== null) lines.push({ error: true, text: ownLine });
      if (at >= 0 && note !== null) lines[at] = { error: true, text: `${(lines[at] as Line).text}; ${note}` };
      for (const line of lines.splice(0)) {
        if (line.error) log.error(line.text);
        else log.info(line.text);
      }
    },
  };
}
