/**
 * Issue scenario 7 through udev: the VFs of the second SR-IOV NVMe PF are claimed
 * (VfsOf=) before boot. `vfio-autobind apply` sets that PF's sriov_drivers_autoprobe to 0;
 * writing sriov_numvfs then creates VFs whose add events udev hands to the helper, which
 * binds them to vfio-pci. No CLI bind is run here.
 */
import * as fs from "node:fs";
import { rootPorts, sriovUdevController } from "../../shared/machineLayout.js";
import type { DeviceState, JournalWindow } from "../../shared/protocol.js";
import { udevClaimedDevices } from "../../shared/udevClaims.js";
import {
  devicesBehind,
  journalMark,
  journalWindow,
  readDevice,
  runTool,
  udevSettle,
  virtualFunctions,
  waitFor,
  writeGuestSysfs,
  type CommandRun,
} from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { readRecords } from "./udevBoot.js";

export interface UdevSriovResult {
  readonly pfAddress: string;
  readonly autoprobeBefore: string;
  readonly apply: CommandRun;
  readonly autoprobeAfterApply: string;
  readonly vfs: readonly DeviceState[];
  readonly pf: DeviceState;
  readonly records: Readonly<Record<string, unknown>>;
  readonly settle: CommandRun;
  /** From before apply to the settled end. */
  readonly window: JournalWindow;
}

export const udevSriov = defineScenario<UdevSriovResult>({
  name: "udev-sriov",
  async run({ log }) {
    const pfAddress = devicesBehind(rootPorts.sriovUdev.address)[0];
    if (pfAddress === undefined) throw new Error(`no device behind ${rootPorts.sriovUdev.address}`);
    const pfDir = `/sys/bus/pci/devices/${pfAddress}`;
    const autoprobe = (): string => fs.readFileSync(`${pfDir}/sriov_drivers_autoprobe`, "utf8").trim();
    const mark = journalMark();
    const autoprobeBefore = autoprobe();
    const apply = runTool(log, ["apply"]);
    const autoprobeAfterApply = autoprobe();
    writeGuestSysfs(log, `${pfDir}/sriov_numvfs`, String(sriovUdevController.maxVfs));
    const vfs = await waitFor("the VFs", 30_000, () => {
      const found = virtualFunctions(pfAddress);
      return found.length === sriovUdevController.maxVfs ? found : null;
    });
    // Polled until the helper has bound each VF (or the time is up; the test says which).
    await waitFor("every VF on its claimed driver", 60_000, () =>
      vfs.every((vf) => readDevice(vf).driver === udevClaimedDevices[vf]),
    ).catch((error: unknown) => {
      log.note(String(error));
    });
    const settle = udevSettle(log);
    return {
      pfAddress,
      autoprobeBefore,
      apply,
      autoprobeAfterApply,
      vfs: vfs.map(readDevice),
      pf: readDevice(pfAddress),
      records: readRecords(),
      settle,
      window: journalWindow(mark),
    };
  },
});
