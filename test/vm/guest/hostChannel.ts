/**
 * The guest's line to the host: protocol messages on the second serial port. ttyS0 is the
 * console, and serial-getty on it would hang up our writes (qemu-notes.md); ttyS1 has no
 * getty and no console messages, so it carries nothing but protocol lines.
 */
import * as fs from "node:fs";
import { formatMessage, type GuestMessage } from "../shared/protocol.js";

const PORT = "/dev/ttyS1";

let fd: number | null = null;

export function sendToHost(message: GuestMessage): void {
  fd ??= fs.openSync(PORT, "w");
  // One write per line, synchronously, so lines never interleave and are out before poweroff.
  fs.writeSync(fd, formatMessage(message));
}
