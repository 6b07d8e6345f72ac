/**
 * Scenario (a): `bind` of QEMU's virtio-net picks the more specific fixture variant
 * (subsystem vendor given) over the less specific one and over vfio_pci; virtio-blk, which
 * only the less specific one matches, gets that one. Both are released again.
 */
import * as fs from "node:fs";
import { bootDevices, fixtureVariants } from "../../shared/machineLayout.js";
import { defineScenario } from "../scenario.js";
import { bindStep, releaseStep, type ToolStep } from "./bindSteps.js";

export interface BindVariantResult {
  readonly net: { readonly bind: ToolStep; readonly release: ToolStep };
  readonly blk: { readonly bind: ToolStep; readonly release: ToolStep };
  /** /sys/module/<subsys fixture>/drivers after loading: how the tool learns the driver name. */
  readonly subsysModuleDrivers: readonly string[];
}

export const bindVariant = defineScenario<BindVariantResult>({
  name: "bind-variant",
  run({ log }) {
    const net = bootDevices.netVariant.address;
    const blk = bootDevices.blkVariant.address;
    const netBind = bindStep(log, net);
    const subsysModuleDrivers = listOrEmpty(`/sys/module/${fixtureVariants.subsys.module}/drivers`);
    const netRelease = releaseStep(log, net);
    const blkBind = bindStep(log, blk);
    const blkRelease = releaseStep(log, blk);
    return {
      net: { bind: netBind, release: netRelease },
      blk: { bind: blkBind, release: blkRelease },
      subsysModuleDrivers,
    };
  },
});

function listOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}
