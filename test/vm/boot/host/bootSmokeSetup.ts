/**
 * The boot part of `npm run test:smoke`: one two-stage boot with holds per initramfs
 * generator (bootSetup.ts's SMOKE_BOOTS), on the release VFIO_AUTOBIND_RELEASE names.
 */
import type { TestProject } from "vitest/node";
import { bootsNamed, runBootSuite, SMOKE_BOOTS } from "./bootSetup.js";

export default async function setup(project: TestProject): Promise<void> {
  await runBootSuite(project, bootsNamed(SMOKE_BOOTS));
}
