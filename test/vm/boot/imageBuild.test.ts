/**
 * The image build itself (host/bootImage.ts): the claims and the initramfs were made in a
 * chroot where the host's /sys could not be reached, and the tool said it bound nothing.
 */
import { expect, it } from "vitest";
import { IMAGES, type ImageName } from "./shared/bootMachine.js";
import { PLANNED_BOOTS } from "./host/bootSetup.js";
import { bootReport, describeBoot } from "./bootReport.js";

/** The images the run's planned boots use: all of them, or the smoke suite's two. */
const plannedImages = new Set(
  PLANNED_BOOTS.filter((boot) => bootReport?.plannedBoots.includes(boot.name)).map((boot) => boot.image),
);

describeBoot("the image builds", () => {
  for (const name of Object.keys(IMAGES) as ImageName[]) {
    it.runIf(plannedImages.has(name))(
      `${name}: the chroot had an empty /sys and /proc, and claim and apply bound nothing`,
      () => {
        const image = bootReport?.images.find((i) => i.name === name);
        expect(image).toBeDefined();
        expect(image?.chrootSys).toEqual([]);
        expect(image?.chrootProc).toEqual([]);
        const claims = image?.claimRuns.filter((run) => run.argv[0] === "claim") ?? [];
        expect(claims.length).toBe(IMAGES[name].claims.length);
        for (const run of claims) expect(run.output, run.argv.join(" ")).toMatch(/no device bound or released now/);
      },
    );
  }
});
