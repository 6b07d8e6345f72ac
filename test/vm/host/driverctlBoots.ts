/**
 * The two comparison boots of shared/driverctlCompare.ts: the comparison machine (8
 * virtio-net, each behind its own root port), the same base root (our package and Debian's
 * driverctl both installed), and an overlay that differs only in which tool's
 * configuration it holds at boot. Run one after the other, after the main boot.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { claimFileName, claimFileText } from "../../../src/config/claimWriter.js";
import {
  compareAddresses,
  compareClaimRequest,
  compareKernelParameters,
  COMPARE_BOOTS,
  COMPARE_DRIVER,
  COMPARE_MODULE,
  driverctlFile,
  type CompareBoot,
} from "../shared/driverctlCompare.js";
import { compareQemuArgs } from "../shared/machineLayout.js";
import type { ScenarioMessage } from "../shared/protocol.js";
import { writeClaimsAndRules } from "./bootFiles.js";
import { phase } from "./command.js";
import { packOverlay, waitBoundScript, writeGuestRunner } from "./guestOverlay.js";
import { bootGuest, type GuestRun } from "./guestSession.js";
import { installTool } from "./installTool.js";
import { writeFile } from "./rootFiles.js";
import { consoleTail } from "./vmReport.js";

const WAIT_SCRIPT = "/usr/lib/vfio-autobind-vmtest/wait-bound.sh";

/**
 * driverctl@.service has RefuseManualStop=yes, and each unit stays active after its one run
 * (RemainAfterExit=yes), so the next add event would not start it again. The rounds stop
 * the units between rounds, outside the timed window; this drop-in allows only that. It
 * changes nothing about how a unit starts.
 */
const DRIVERCTL_STOP_DROPIN = `# VM suite (test/vm/host/driverctlBoots.ts): the rounds stop driverctl's units between rounds.
[Unit]
RefuseManualStop=no
`;

export interface CompareBootRun {
  readonly boot: CompareBoot;
  readonly guest: GuestRun;
  readonly scenarios: Readonly<Record<string, ScenarioMessage>>;
  /** The guest's Node version (its hello). */
  readonly node: string;
}

async function buildCompareOverlay(baseRoot: string, dir: string, boot: CompareBoot): Promise<string> {
  const overlay = path.join(dir, "overlay");
  fs.mkdirSync(overlay, { mode: 0o755 });
  fs.chmodSync(overlay, 0o755);
  await installTool(baseRoot, overlay);
  await writeGuestRunner(overlay, WAIT_SCRIPT);
  writeFile(overlay, WAIT_SCRIPT.slice(1), waitBoundScript(compareAddresses, COMPARE_DRIVER), 0o755);
  writeFile(overlay, "etc/systemd/system/driverctl@.service.d/90-vmtest-stop.conf", DRIVERCTL_STOP_DROPIN, 0o644);
  if (boot === "compare-ours") {
    // What `vfio-autobind claim --driver vfio-pci <the 8 addresses>` writes on the running
    // guest, vfio_pci loaded: the claim, its rules (the pin compiled in) and the hold script.
    // The guest checks that its own `claim` writes the very same rules.
    const claim = { [claimFileName(compareClaimRequest)]: claimFileText(compareClaimRequest) };
    writeClaimsAndRules(baseRoot, overlay, claim, () => null, {
      knownDrivers: { [COMPARE_MODULE]: COMPARE_DRIVER },
      holdScript: true,
    });
  } else {
    for (const address of compareAddresses)
      writeFile(overlay, driverctlFile(address).slice(1), `${COMPARE_DRIVER}\n`, 0o644);
  }
  return packOverlay(overlay, path.join(dir, "overlay.cpio"));
}

export async function runCompareBoots(
  kernel: string,
  baseCpio: string,
  baseRoot: string,
  runDir: string,
  timeoutMs: number,
): Promise<CompareBootRun[]> {
  const runs: CompareBootRun[] = [];
  for (const boot of COMPARE_BOOTS) {
    const dir = path.join(runDir, boot);
    fs.mkdirSync(dir);
    const overlayCpio = await phase(`${boot} overlay`, () => buildCompareOverlay(baseRoot, dir, boot));
    const initrd = path.join(dir, "initrd.cpio");
    fs.copyFileSync(baseCpio, initrd);
    fs.appendFileSync(initrd, fs.readFileSync(overlayCpio));
    const guest = await phase(`${boot} boot`, () =>
      bootGuest({
        kernel,
        initrd,
        runDir: dir,
        timeoutMs,
        machine: { devices: compareQemuArgs(), extraAppend: compareKernelParameters(boot) },
      }),
    );
    fs.rmSync(initrd);
    if (!guest.messages.some((m) => m.type === "done")) {
      throw new Error(
        [
          `comparison boot ${boot} did not finish (QEMU ${guest.timedOut ? "timed out" : `exited with ${guest.qemuExitCode}`})`,
          `--- last lines of its console (${guest.consoleLog}) ---`,
          consoleTail(guest.consoleLog, 80),
        ].join("\n"),
      );
    }
    const scenarios: Record<string, ScenarioMessage> = {};
    let node = "";
    for (const message of guest.messages) {
      if (message.type === "scenario") scenarios[message.name] = message;
      if (message.type === "hello") node = message.node;
    }
    runs.push({ boot, guest, scenarios, node });
  }
  return runs;
}
