/**
 * Scenario (c), issue scenario 5: with the best variant's probe failing (the fixture's
 * fail_probe parameter), `bind` falls back to the next candidate; with only the failing
 * one allowed (--driver ... --no-fallback), the original driver is bound again.
 */
import { bootDevices, fixtureVariants } from "../../shared/machineLayout.js";
import { runCommand, writeGuestSysfs } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { bindStep, releaseStep, type ToolStep } from "./bindSteps.js";

export interface FailingVariantResult {
  readonly fallback: ToolStep;
  readonly releaseAfterFallback: ToolStep;
  readonly allFail: ToolStep;
}

export const failingVariant = defineScenario<FailingVariantResult>({
  name: "failing-variant",
  run({ log }) {
    const address = bootDevices.netFallback.address;
    const failing = fixtureVariants.subsys.module;
    // Loaded by hand so its parameter can be set; the tool then skips modprobe for it.
    runCommand(log, ["modprobe", failing]);
    const parameter = `/sys/module/${failing}/parameters/fail_probe`;
    writeGuestSysfs(log, parameter, "1");
    try {
      const fallback = bindStep(log, address);
      const releaseAfterFallback = releaseStep(log, address);
      const allFail = bindStep(log, address, "--driver", failing, "--no-fallback");
      return { fallback, releaseAfterFallback, allFail };
    } finally {
      writeGuestSysfs(log, parameter, "0");
    }
  },
});
