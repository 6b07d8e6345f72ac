import { expect, it } from "vitest";
import { genericVfio } from "./shared/machineLayout.js";
import type { VfioHoldersResult } from "./guest/scenarios/vfioHolders.js";
import { describeVm, scenarioResult } from "./scenarioReport.js";

interface OutcomeJson {
  readonly status: string;
  readonly message: string;
}

describeVm("a process holds the device's /dev/vfio/<group>", () => {
  const result = scenarioResult<VfioHoldersResult>("vfio-holders");
  const held = (): string =>
    `${result.node} is open by node (pid ${result.holderPid}); stop the VM first (--force does not change this: the kernel would block the unbind until it lets go)`;

  it("binds the device and the holder opens its group node", () => {
    expect(result.bind.run.exitCode).toBe(0);
    expect(result.bind.after.driver).toBe(genericVfio.driver);
    expect(result.node).toMatch(/^\/dev\/vfio\/\d+$/);
    expect(result.holderOpened).toBe(true);
  });

  it("release is refused at once, naming the pid and command, with or without --force", () => {
    for (const step of [result.releaseHeld, result.releaseHeldForced]) {
      expect(step.run.exitCode).toBe(1);
      expect((step.run.json as OutcomeJson).status).toBe("refused");
      expect((step.run.json as OutcomeJson).message).toContain(held());
      expect(step.after.driver).toBe(genericVfio.driver);
      // Refused before any write: never blocked in the kernel's unbind.
      expect(step.run.seconds).toBeLessThan(20);
    }
  });

  it("a move to another VFIO driver is refused the same way", () => {
    expect(result.bindAgainHeld.run.exitCode).toBe(1);
    expect((result.bindAgainHeld.run.json as OutcomeJson).message).toContain(held());
    expect(result.bindAgainHeld.after.driver).toBe(genericVfio.driver);
  });

  it("once the process has ended, release goes through", () => {
    expect(result.release.run.exitCode).toBe(0);
    expect(result.release.after.driver).toBe("nvme");
  });
});
