/**
 * Scenario (d), issue scenario 7 by hand: VFs created on QEMU's SR-IOV NVMe controller
 * with autoprobe off come up unbound; `bind` takes each one to vfio-pci, and refuses the
 * PF while it has VFs enabled.
 */
import { rootPorts, sriovController } from "../../shared/machineLayout.js";
import type { DeviceState } from "../../shared/protocol.js";
import { devicesBehind, readDevice, virtualFunctions, waitFor, writeGuestSysfs } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { bindStep, type ToolStep } from "./bindSteps.js";

export interface SriovVfsResult {
  readonly pf: DeviceState;
  /** Each VF as it appeared, before anything bound it. */
  readonly vfsAsCreated: readonly DeviceState[];
  readonly vfBinds: readonly ToolStep[];
  readonly pfBind: ToolStep;
}

export const sriovVfs = defineScenario<SriovVfsResult>({
  name: "sriov-vfs",
  async run({ log }) {
    const pfAddress = devicesBehind(rootPorts.sriov.address)[0];
    if (pfAddress === undefined) throw new Error(`no device behind ${rootPorts.sriov.address}`);
    const pfDir = `/sys/bus/pci/devices/${pfAddress}`;
    writeGuestSysfs(log, `${pfDir}/sriov_drivers_autoprobe`, "0");
    writeGuestSysfs(log, `${pfDir}/sriov_numvfs`, String(sriovController.maxVfs));
    const vfs = await waitFor("the VFs", 30_000, () => {
      const found = virtualFunctions(pfAddress);
      return found.length === sriovController.maxVfs ? found : null;
    });
    const vfsAsCreated = vfs.map(readDevice);
    const vfBinds = vfs.map((vf) => bindStep(log, vf));
    const pfBind = bindStep(log, pfAddress);
    return { pf: readDevice(pfAddress), vfsAsCreated, vfBinds, pfBind };
  },
});
