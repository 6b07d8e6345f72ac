/** Waiting on vfio-autobind-moves.service, which the module index watch starts, for the move scenarios. */
import { runCommand, type GuestLog } from "../guestSystem.js";

export const MOVES_SERVICE = "vfio-autobind-moves.service";

export const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Polls `done` every half second for up to `seconds`; the seconds it took, or null. */
export function waitFor(seconds: number, done: () => boolean): number | null {
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    if (done()) return (Date.now() - started) / 1000;
    sleep(500);
  }
  return null;
}

const serviceProperty = (log: GuestLog, property: string): string =>
  runCommand(log, ["systemctl", "show", "-P", property, MOVES_SERVICE]).stdout.trim();

/** Waits until the service is neither starting nor running (up to 30 s); its Result then. */
export function waitForMovesIdle(log: GuestLog): string {
  waitFor(30, () => ["inactive", "failed"].includes(serviceProperty(log, "ActiveState")));
  return serviceProperty(log, "Result");
}
