/**
 * A better driver arrives as a vendor package, and leaves with it. With the fixture variants
 * out of the module index, two claimed devices are on vfio-pci, and a process holds one's
 * group node. A .deb built here ships both fixtures and runs depmod in its postinst and
 * postrm, as vendor and DKMS packages do; it is installed with `apt-get install ./x.deb`.
 * The free device must move within 30 s with one journal line; the held one stays, and
 * moves at the admin's `apply` after the holder exits. Removing the package then changes
 * no binding, and `status` and `check` say what the next boot gives each device.
 * Runs after driver-moves, which leaves the fixtures in updates/dkms.
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

type Pair<T> = Readonly<Record<"moving" | "held", T>>;

export interface PackageMovesResult {
  readonly applied: CommandRun;
  readonly before: Pair<DeviceState>;
  readonly holderOpened: boolean;
  readonly install: CommandRun;
  /** Seconds from `apt-get install` returning until the free device was on its variant (null: not within 30 s). */
  readonly movedAfterSeconds: number | null;
  readonly installResult: string;
  readonly afterInstall: Pair<DeviceState>;
  readonly installJournal: JournalWindow;
  readonly statusWhileHeld: CommandRun;
  readonly applyAfterHolder: CommandRun;
  readonly afterApply: Pair<DeviceState>;
  readonly remove: CommandRun;
  readonly removeResult: string;
  readonly afterRemove: Pair<DeviceState>;
  readonly removeJournal: JournalWindow;
  readonly statusAfterRemove: CommandRun;
  readonly checkAfterRemove: CommandRun;
}

export const VARIANT_PACKAGE = "fixture-vfio-variants";
const CLAIM_FILE = "/etc/vfio-autobind/60-package-moves.conf";

/** A vendor's driver package: the modules under updates/, and depmod after install and removal. */
function buildVariantPackage(log: Parameters<typeof runCommand>[0], modules: readonly string[]): string {
  const release = os.release();
  const work = fs.mkdtempSync("/root/variant-package-");
  const tree = path.join(work, "tree");
  const target = path.join(tree, "usr", "lib", "modules", release, "updates", "vendor");
  fs.mkdirSync(target, { recursive: true });
  for (const ko of modules) fs.copyFileSync(ko, path.join(target, path.basename(ko)));
  fs.mkdirSync(path.join(tree, "DEBIAN"));
  fs.writeFileSync(
    path.join(tree, "DEBIAN", "control"),
    [
      `Package: ${VARIANT_PACKAGE}`,
      "Version: 1.0",
      "Architecture: amd64",
      "Maintainer: vfio-autobind VM suite <root@localhost>",
      "Description: fixture VFIO variant drivers, packaged as a vendor ships them",
      "",
    ].join("\n"),
  );
  for (const script of ["postinst", "postrm"]) {
    fs.writeFileSync(path.join(tree, "DEBIAN", script), `#!/bin/sh\nset -e\ndepmod -a ${release}\n`, { mode: 0o755 });
  }
  const deb = path.join(work, `${VARIANT_PACKAGE}_1.0_amd64.deb`);
  runCommand(log, ["dpkg-deb", "--root-owner-group", "--build", tree, deb]);
  return deb;
}

export const packageMoves = defineScenario<PackageMovesResult>({
  name: "package-moves",
  run({ log }) {
    const moving = bootDevices.blkVariant.address;
    const held = bootDevices.netVariant.address;
    const devices = (): Pair<DeviceState> => ({ moving: readDevice(moving), held: readDevice(held) });
    const modules = path.join("/lib/modules", os.release());
    const dkms = path.join(modules, "updates", "dkms");
    const aside = fs.mkdtempSync("/root/fixtures-");
    const fixtures = fs.readdirSync(dkms).filter((f) => f.endsWith(".ko"));
    // Out of the index (still loaded: earlier scenarios' devices are bound to them).
    for (const ko of fixtures) fs.renameSync(path.join(dkms, ko), path.join(aside, ko));
    runCommand(log, ["depmod", "-a"]);
    sleep(1000);
    waitForMovesIdle(log);
    const deb = buildVariantPackage(
      log,
      fixtures.map((ko) => path.join(aside, ko)),
    );

    fs.writeFileSync(CLAIM_FILE, ["[Claim]", `Address=${moving}`, "", "[Claim]", `Address=${held}`, ""].join("\n"));
    const applied = runTool(log, ["apply"]);
    const before = devices();
    const node = before.held.iommuGroup === null ? null : `/dev/vfio/${before.held.iommuGroup}`;
    const holder = holdNode(node);
    try {
      const installMark = journalMark();
      const install = runCommand(log, ["apt-get", "install", "-y", "--no-install-recommends", deb]);
      const movedAfterSeconds = waitFor(30, () => readDevice(moving).driver !== "vfio-pci");
      const installResult = waitForMovesIdle(log);
      const installJournal = journalWindow(installMark);
      const afterInstall = devices();
      const statusWhileHeld = runTool(log, ["status"]);

      holder.stop();
      const applyAfterHolder = runTool(log, ["apply"]);
      const afterApply = devices();

      const removeMark = journalMark();
      const remove = runCommand(log, ["apt-get", "remove", "-y", VARIANT_PACKAGE]);
      sleep(1000);
      const removeResult = waitForMovesIdle(log);
      const removeJournal = journalWindow(removeMark);
      const afterRemove = devices();
      const statusAfterRemove = runTool(log, ["status"]);
      const checkAfterRemove = runTool(log, ["check"]);
      return {
        applied,
        before,
        holderOpened: holder.opened,
        install,
        movedAfterSeconds,
        installResult,
        afterInstall,
        installJournal,
        statusWhileHeld,
        applyAfterHolder,
        afterApply,
        remove,
        removeResult,
        afterRemove,
        removeJournal,
        statusAfterRemove,
        checkAfterRemove,
      };
    } finally {
      holder.stop();
      runCommand(log, ["dpkg", "--purge", VARIANT_PACKAGE]);
      // Give the devices back, and the later scenarios their fixtures.
      fs.rmSync(CLAIM_FILE, { force: true });
      runTool(log, ["apply"]);
      for (const ko of fixtures) fs.renameSync(path.join(aside, ko), path.join(dkms, ko));
      runCommand(log, ["depmod", "-a"]);
      sleep(1000);
      waitForMovesIdle(log);
      fs.rmSync(aside, { recursive: true, force: true });
    }
  },
});
