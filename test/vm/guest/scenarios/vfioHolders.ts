/**
 * A process holds a bound device's /dev/vfio/<group>. `release` must refuse at
 * once (not hang in the kernel's unbind), naming the pid and command, --force or not; once
 * the process ends, `release` goes through. Uses the boot NVMe (00:07.0) after
 * nvme-host-driver gave it back.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { bootDevices, fixtureVariants } from "../../shared/machineLayout.js";
import { readDevice } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { bindStep, releaseStep, type ToolStep } from "./bindSteps.js";
import { holdNode } from "./groupHolder.js";

export interface VfioHoldersResult {
  readonly bind: ToolStep;
  /** The group node the holder opened, and whether it managed to. */
  readonly node: string | null;
  readonly holderPid: number | null;
  readonly holderOpened: boolean;
  readonly releaseHeld: ToolStep;
  readonly releaseHeldForced: ToolStep;
  readonly bindAgainHeld: ToolStep;
  readonly release: ToolStep;
  /** The device's cdev (`vfio-dev/vfioN`) while bound, when the kernel has one. */
  readonly cdev: string | null;
}

export const vfioHolders = defineScenario<VfioHoldersResult>({
  name: "vfio-holders",
  run({ log }) {
    const address = bootDevices.nvme.address;
    const bind = bindStep(log, address);
    const group = readDevice(address).iommuGroup;
    const node = group === null ? null : `/dev/vfio/${group}`;
    let cdev: string | null = null;
    try {
      cdev = fs.readdirSync(path.join("/sys/bus/pci/devices", address, "vfio-dev"))[0] ?? null;
    } catch {
      cdev = null;
    }
    // The holder: a few lines of Node that open the group node and sleep, as a VMM would.
    const holder = holdNode(node);
    const holderPid = holder.pid;
    const holderOpened = holder.opened;
    log.note(`holder pid ${holderPid} opened ${node}: ${holderOpened}`);
    const releaseHeld = releaseStep(log, address);
    const releaseHeldForced = releaseStep(log, address, "--force");
    // A move to another VFIO driver is an unbind too.
    const bindAgainHeld = bindStep(log, address, "--driver", fixtureVariants.generic.module);
    holder.stop();
    const release = releaseStep(log, address);
    return { bind, node, holderPid, holderOpened, releaseHeld, releaseHeldForced, bindAgainHeld, release, cdev };
  },
});
