import { expect, it } from "vitest";
import { fixtureVariants } from "./shared/machineLayout.js";
import type { FailingVariantResult } from "./guest/scenarios/failingVariant.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

interface BindJson {
  readonly status: string;
  readonly module: string | null;
  readonly attempts: ReadonlyArray<{ readonly module: string; readonly bound: boolean; readonly reason: string }>;
  readonly restore: { readonly ok: boolean; readonly driver: string | null } | null;
}

describeVm("scenario (c), issue scenario 5: a variant whose probe fails", () => {
  const result = scenarioResult<FailingVariantResult>("failing-variant");

  it("falls back to the next candidate when the best one's probe fails", () => {
    const { fallback } = result;
    expect(fallback.before.driver).toBe("virtio-pci");
    expect(fallback.run.exitCode).toBe(0);
    const json = fallback.run.json as BindJson;
    expect(json.status).toBe("bound");
    expect(json.attempts.map((a) => [a.module, a.bound])).toEqual([
      [fixtureVariants.subsys.module, false],
      [fixtureVariants.generic.module, true],
    ]);
    expect(fallback.after.driver).toBe(fixtureVariants.generic.driver);
  });

  it("release after the fallback returns the device to virtio-pci", () => {
    expect(result.releaseAfterFallback.run.exitCode).toBe(0);
    expect(result.releaseAfterFallback.after.driver).toBe("virtio-pci");
  });

  it("when every allowed candidate fails, exits 1 and binds the original driver again", () => {
    const { allFail } = result;
    expect(allFail.run.exitCode).toBe(1);
    const json = allFail.run.json as BindJson;
    expect(json.status).toBe("failed");
    expect(json.attempts.map((a) => [a.module, a.bound])).toEqual([[fixtureVariants.subsys.module, false]]);
    expect(json.restore).toMatchObject({ ok: true, driver: "virtio-pci" });
    expect(allFail.after.driver).toBe("virtio-pci");
    expect(allFail.after.override).toBeNull();
  });
});
