/**
 * A process holds a bound device's /dev/vfio/<group>. `release` must refuse at
 * once (not hang in the kernel's unbind), naming the pid and command, --force or not; once
 * the process ends, `release` goes through. Uses the boot NVMe (00:07.0) after
 * nvme-host-driver gave it back.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { bootDevices, fixtureVariants } from "../../shared/machineLayout.js";
import { readDevice } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { bindStep, releaseStep, type ToolStep } from "./bindSteps.js";

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

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Whether `pid` has `node` open, from its fd links. */
function holds(pid: number, node: string): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === node;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
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
    const holder =
      node === null
        ? null
        : spawn(
            process.execPath,
            ["-e", `require("fs").openSync(${JSON.stringify(node)}, "r+"); setInterval(() => {}, 1000);`],
            {
              stdio: "ignore",
            },
          );
    const holderPid = holder?.pid ?? null;
    let holderOpened = false;
    for (let i = 0; i < 100 && holderPid !== null && node !== null && !holderOpened; i++) {
      holderOpened = holds(holderPid, node);
      if (!holderOpened) sleep(100);
    }
    log.note(`holder pid ${holderPid} opened ${node}: ${holderOpened}`);
    const releaseHeld = releaseStep(log, address);
    const releaseHeldForced = releaseStep(log, address, "--force");
    // A move to another VFIO driver is an unbind too.
    const bindAgainHeld = bindStep(log, address, "--driver", fixtureVariants.generic.module);
    holder?.kill("SIGKILL");
    for (let i = 0; i < 50 && holderPid !== null && fs.existsSync(`/proc/${holderPid}`); i++) sleep(100);
    const release = releaseStep(log, address);
    return { bind, node, holderPid, holderOpened, releaseHeld, releaseHeldForced, bindAgainHeld, release, cdev };
  },
});
