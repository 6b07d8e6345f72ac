/**
 * `status --json` lists every claimed device present and whether vfio-autobind bound it:
 * what a config management tool reads after `apply` to fail a host whose claimed devices
 * are not on their VFIO driver.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { NVME, VIRTIO_NET } from "../../support/simulatedHost.js";
import { makeSimulatedMachine, type SimulatedMachine } from "../support/simulatedMachine.js";

/** A simulated host and its CLI roots, cleaned up when the test ends. */
function simulatedMachine(): SimulatedMachine {
  const machine = makeSimulatedMachine("status-claimed");
  onTestFinished(() => machine.cleanup());
  return machine;
}

const claimedOf = async (cli: ReturnType<typeof simulatedMachine>["cli"]): Promise<unknown> =>
  JSON.parse((await cli(["status", "--json"])).stdout).claimed;

describe("status --json: the claimed devices", () => {
  it("names each claimed device present, its driver, and whether vfio-autobind bound it", async () => {
    const { ws, cli } = simulatedMachine();
    const claimed = () => claimedOf(cli);
    expect(await claimed()).toEqual([]);
    expect((await cli(["claim", VIRTIO_NET, "--now"])).exitCode).toBe(0);
    expect(await claimed()).toEqual([{ address: VIRTIO_NET, driver: "virtio_vfio_pci", bound: true }]);

    // Claimed in a file, not applied yet: on its host driver, not bound.
    fs.writeFileSync(path.join(ws.configDir, "60-nvme.conf"), `[Claim]\nAddress=${NVME}\n`);
    expect(await claimed()).toEqual([
      { address: VIRTIO_NET, driver: "virtio_vfio_pci", bound: true },
      { address: NVME, driver: "nvme", bound: false },
    ]);

    expect((await cli(["apply"])).exitCode).toBe(0);
    expect(await claimed()).toEqual([
      { address: VIRTIO_NET, driver: "virtio_vfio_pci", bound: true },
      { address: NVME, driver: "vfio-pci", bound: true },
    ]);
  });

  it("lists nothing while the claims have errors", async () => {
    const { ws, cli } = simulatedMachine();
    const claimed = () => claimedOf(cli);
    expect((await cli(["claim", VIRTIO_NET, "--now"])).exitCode).toBe(0);
    fs.writeFileSync(path.join(ws.configDir, "60-broken.conf"), "[Claim]\nIds=zz\n");
    expect(await claimed()).toEqual([]);
  });
});
