/**
 * `npm run test:smoke`: the VM suite's main boot with only the smoke scenarios
 * (shared/smoke.ts), on the release VFIO_AUTOBIND_RELEASE names. No comparison boots.
 */
import type { TestProject } from "vitest/node";
import { SMOKE_SCENARIOS } from "../shared/smoke.js";
import { BOOTS, runVmSuite } from "./globalSetup.js";

export default async function setup(project: TestProject): Promise<void> {
  // VFIO_AUTOBIND_VM_BOOTS=none builds without booting, as for the full suite.
  const boots = new Set([...BOOTS].filter((boot) => boot === "main"));
  await runVmSuite(project, { boots, scenarios: SMOKE_SCENARIOS });
}
