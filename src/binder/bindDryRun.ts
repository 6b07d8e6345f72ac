/** What `bind --dry-run` prints: the same step tables the executor walks, described instead of run. */
import type { PciDevice } from "../sysfs/pciDevice.js";
import { describeCandidates } from "./bindCandidates.js";
import type { BindEnvironment } from "./bindDevice.js";
import { ATTEMPT_STEPS, describeRestore } from "./bindSteps.js";
import type { PlannedCandidate } from "./outcomes.js";

export function dryRunPlan(env: BindEnvironment, device: PciDevice, tried: readonly PlannedCandidate[]): string[] {
  const plan: string[] = [];
  tried.forEach((candidate, index) => {
    plan.push(`${index === 0 ? "try" : "else try"} ${candidate.module}:`);
    const view = {
      sysfsRoot: env.sysfsRoot,
      address: device.address,
      currentDriver: device.driver,
      currentOverride: device.driverOverride,
      module: candidate.module,
      driver: candidate.driver,
      builtin: env.builtinModules.has(candidate.module),
      index,
    };
    for (const step of ATTEMPT_STEPS) {
      const line = step.describe(view);
      if (line !== null) plan.push(`  ${line}`);
    }
  });
  plan.push("if none binds:");
  const target = { driver: device.driver, override: device.driverOverride };
  for (const line of describeRestore({ sysfsRoot: env.sysfsRoot, address: device.address }, target)) {
    plan.push(`  ${line}`);
  }
  plan.push(`candidates in order: ${describeCandidates(tried)}`);
  return plan;
}
