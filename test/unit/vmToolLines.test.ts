/**
 * The boot suite tells the tool's own journal lines from the hold script's: both reach the
 * journal through the kernel log as SYSLOG_IDENTIFIER=vfio-autobind, and only the udev
 * helper's records name their pid (test/vm/boot/shared/bootProtocol.ts).
 */
import { describe, expect, it } from "vitest";
import { toolLines, type JournalLine } from "../vm/boot/shared/bootProtocol.js";

describe("toolLines", () => {
  it("keeps the helper's kernel-log lines and the CLI's stream lines, drops the hold script's", () => {
    const journal: JournalLine[] = [
      // hold-claimed.sh: `<5>vfio-autobind: ...` to /dev/kmsg, no pid.
      { message: "holding 0000:00:03.0 (claimed)", transport: "kernel", syslogPid: null },
      // The udev helper: `<14>vfio-autobind[412]: ...` to /dev/kmsg.
      { message: "0000:00:03.0: bound to vfio-pci", transport: "kernel", syslogPid: "412" },
      // The helper's fallback to journald's socket, and the CLI under a unit.
      { message: "0000:00:04.0: bound to vfio-pci", transport: "stdout", syslogPid: null },
    ];
    expect(toolLines(journal)).toEqual(["0000:00:03.0: bound to vfio-pci", "0000:00:04.0: bound to vfio-pci"]);
  });
});
