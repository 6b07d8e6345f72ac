/**
 * A better driver arrives the DKMS way: with the fixture variants out of the module index,
 * three claimed devices are on vfio-pci: one claimed with Driver=auto, one pinned with
 * Driver=vfio-pci, one whose group node a process holds. Then the fixtures are copied to
 * /lib/modules/$(uname -r)/updates/dkms and `depmod -a` runs, as DKMS does, and nothing
 * else: vfio-autobind-moves.path must notice, and its service move the free auto-claimed
 * device within 30 s, leave the other two, and log a line for each that moves or waits.
 * Runs after failing-variant, on the devices the CLI scenarios gave back to virtio-pci.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DeviceState, JournalWindow } from "../../shared/protocol.js";
import { bootDevices } from "../../shared/machineLayout.js";
import { journalMark, journalWindow, readDevice, runCommand, runTool, type CommandRun } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { holdNode } from "./groupHolder.js";
import { sleep, waitFor, waitForMovesIdle } from "./movesService.js";

export interface DriverMovesResult {
  /** After the fixtures left the index and `apply`: all three on vfio-pci. */
  readonly applied: CommandRun;
  readonly before: Readonly<Record<"moving" | "pinned" | "held", DeviceState>>;
  readonly holderOpened: boolean;
  /** Seconds from `depmod -a` until the moving device was on its variant (null: not within 30 s). */
  readonly movedAfterSeconds: number | null;
  readonly after: Readonly<Record<"moving" | "pinned" | "held", DeviceState>>;
  /** The tool's journal lines from the depmod until the moves service finished. */
  readonly journal: JournalWindow;
  readonly status: CommandRun;
  readonly serviceResult: string;
}

const CLAIM_FILE = "/etc/vfio-autobind/60-driver-moves.conf";

export const driverMoves = defineScenario<DriverMovesResult>({
  name: "driver-moves",
  run({ log }) {
    const moving = bootDevices.blkVariant.address;
    const pinned = bootDevices.netFallback.address;
    const held = bootDevices.netVariant.address;
    const modules = path.join("/lib/modules", os.release());
    const fixtures = fs.readdirSync(path.join(modules, "updates")).filter((f) => f.endsWith(".ko"));
    const aside = fs.mkdtempSync("/root/fixtures-");
    // Out of the index: the state of a machine before the vendor's DKMS package. Never
    // unloaded: the earlier scenarios' devices are bound to them (a bound driver holds no
    // module reference, so `modprobe -r` would strand those devices driverless).
    for (const ko of fixtures) fs.renameSync(path.join(modules, "updates", ko), path.join(aside, ko));
    runCommand(log, ["depmod", "-a"]);
    // The watch has seen that depmod too: let its run start and end before the claims appear.
    sleep(1000);
    waitForMovesIdle(log);

    fs.writeFileSync(
      CLAIM_FILE,
      [
        "[Claim]",
        `Address=${moving}`,
        "",
        "[Claim]",
        `Address=${pinned}`,
        "Driver=vfio-pci",
        "",
        "[Claim]",
        `Address=${held}`,
        "",
      ].join("\n"),
    );
    const applied = runTool(log, ["apply"]);
    const before = { moving: readDevice(moving), pinned: readDevice(pinned), held: readDevice(held) };

    const node = before.held.iommuGroup === null ? null : `/dev/vfio/${before.held.iommuGroup}`;
    const holder = holdNode(node);
    const holderOpened = holder.opened;
    log.note(`holder opened ${node}: ${holderOpened}`);

    try {
      const mark = journalMark();
      // What DKMS does after a build: copy the modules, then depmod. No package is involved.
      const dkms = path.join(modules, "updates", "dkms");
      fs.mkdirSync(dkms, { recursive: true });
      for (const ko of fixtures) fs.copyFileSync(path.join(aside, ko), path.join(dkms, ko));
      runCommand(log, ["depmod", "-a"]);
      const movedAfterSeconds = waitFor(30, () => readDevice(moving).driver !== "vfio-pci");
      const serviceResult = waitForMovesIdle(log);
      const journal = journalWindow(mark);
      const status = runTool(log, ["status"]);
      const after = { moving: readDevice(moving), pinned: readDevice(pinned), held: readDevice(held) };
      return { applied, before, holderOpened, movedAfterSeconds, after, journal, status, serviceResult };
    } finally {
      holder.stop();
      // Give the three devices back, and the later scenarios their fixtures (now in updates/dkms).
      fs.rmSync(CLAIM_FILE, { force: true });
      sleep(500);
      runTool(log, ["apply"]);
      fs.rmSync(aside, { recursive: true, force: true });
    }
  },
});
