/**
 * Scenarios (b) and 6: the NVMe controller is bound to the built-in nvme driver before any
 * userspace runs. `bind` must unbind it and bind generic vfio-pci (no variant matches
 * 1b36:0010); `release` must give it back to nvme.
 */
import * as fs from "node:fs";
import { bootDevices } from "../../shared/machineLayout.js";
import { defineScenario } from "../scenario.js";
import { bindStep, releaseStep, type ToolStep } from "./bindSteps.js";

export interface NvmeHostDriverResult {
  readonly bind: ToolStep;
  /** The bind record exists after bind. */
  readonly recordAfterBind: boolean;
  readonly release: ToolStep;
  readonly recordAfterRelease: boolean;
  /** The nvme driver made its controller again (`nvme/nvmeN` under the device). */
  readonly nvmeControllerAfterRelease: boolean;
}

export const nvmeHostDriver = defineScenario<NvmeHostDriverResult>({
  name: "nvme-host-driver",
  run({ log }) {
    const address = bootDevices.nvme.address;
    const record = `/run/vfio-autobind/devices/${address}.json`;
    const bind = bindStep(log, address);
    const recordAfterBind = fs.existsSync(record);
    const release = releaseStep(log, address);
    return {
      bind,
      recordAfterBind,
      release,
      recordAfterRelease: fs.existsSync(record),
      nvmeControllerAfterRelease: fs.existsSync(`/sys/bus/pci/devices/${address}/nvme`),
    };
  },
});
