/**
 * vfio-autobind's own upgrade, as apt does it, with a claim in place. The package the guest
 * was installed from is rebuilt under a lower version and installed over it (a downgrade),
 * and the rules are made to look as an older version wrote them; installing the current
 * package again must regenerate them with its compiler, leave every device where it is,
 * and make `check` content again.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DeviceState, JournalWindow } from "../../shared/protocol.js";
import { bootDevices } from "../../shared/machineLayout.js";
import { GUEST_RULES_FILE, GUEST_TOOL_PACKAGE } from "../../shared/udevClaims.js";
import { journalMark, journalWindow, listDevices, runCommand, runTool, type CommandRun } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { sleep, waitForMovesIdle } from "./movesService.js";

export interface PackageUpgradeResult {
  readonly version: string;
  readonly applied: CommandRun;
  readonly before: readonly DeviceState[];
  readonly downgrade: CommandRun;
  /** The rules' generator line after the downgrade, before it was aged. */
  readonly generatorAfterDowngrade: string | null;
  readonly checkWithOldRules: CommandRun;
  readonly upgrade: CommandRun;
  readonly generatorAfterUpgrade: string | null;
  readonly checkAfterUpgrade: CommandRun;
  readonly after: readonly DeviceState[];
  readonly upgradeJournal: JournalWindow;
}

/** The version an older release of vfio-autobind would have written into the rules. */
export const OLD_GENERATOR = "0.0.1";
const CLAIM_FILE = "/etc/vfio-autobind/60-package-upgrade.conf";
const APT_INSTALL = ["apt-get", "install", "-y", "--allow-downgrades", "--no-install-recommends"];

const generatorLine = (): string | null =>
  /^# generator: .*$/m.exec(fs.readFileSync(GUEST_RULES_FILE, "utf8"))?.[0] ?? null;

/** The same package under `${version}~older`, which dpkg orders below it. */
function olderBuild(log: Parameters<typeof runCommand>[0], version: string): string {
  const work = fs.mkdtempSync("/root/older-package-");
  const tree = path.join(work, "tree");
  runCommand(log, ["dpkg-deb", "-R", GUEST_TOOL_PACKAGE, tree]);
  const control = path.join(tree, "DEBIAN", "control");
  fs.writeFileSync(control, fs.readFileSync(control, "utf8").replace(/^Version: .*$/m, `Version: ${version}~older`));
  const deb = path.join(work, `vfio-autobind_${version}~older_all.deb`);
  runCommand(log, ["dpkg-deb", "--root-owner-group", "--build", tree, deb]);
  return deb;
}

export const packageUpgrade = defineScenario<PackageUpgradeResult>({
  name: "package-upgrade",
  run({ log }) {
    const device = bootDevices.blkVariant.address;
    const version = runCommand(log, ["dpkg-query", "-W", "-f", "${Version}", "vfio-autobind"]).stdout.trim();
    fs.writeFileSync(CLAIM_FILE, `[Claim]\nAddress=${device}\n`);
    try {
      const applied = runTool(log, ["apply"]);
      const before = listDevices();
      const downgrade = runCommand(log, [...APT_INSTALL, olderBuild(log, version)]);
      const generatorAfterDowngrade = generatorLine();
      const rules = fs.readFileSync(GUEST_RULES_FILE, "utf8");
      fs.writeFileSync(
        GUEST_RULES_FILE,
        rules.replace(/^# generator: .*$/m, `# generator: vfio-autobind ${OLD_GENERATOR}`),
      );
      const checkWithOldRules = runTool(log, ["check"]);

      const mark = journalMark();
      const upgrade = runCommand(log, [...APT_INSTALL, GUEST_TOOL_PACKAGE]);
      sleep(1000);
      waitForMovesIdle(log);
      const upgradeJournal = journalWindow(mark);
      return {
        version,
        applied,
        before,
        downgrade,
        generatorAfterDowngrade,
        checkWithOldRules,
        upgrade,
        generatorAfterUpgrade: generatorLine(),
        checkAfterUpgrade: runTool(log, ["check"]),
        after: listDevices(),
        upgradeJournal,
      };
    } finally {
      fs.rmSync(CLAIM_FILE, { force: true });
      runTool(log, ["apply"]);
    }
  },
});
