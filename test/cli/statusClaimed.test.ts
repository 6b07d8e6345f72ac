/**
 * `status --json` lists every claimed device present and whether vfio-autobind bound it:
 * what a config management tool reads after `apply` to fail a host whose claimed devices
 * are not on their VFIO driver.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeSimulatedHost, NVME, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

let host: SimulatedHost;
let ws: CliWorkspace;
beforeEach(() => {
  host = makeSimulatedHost();
  ws = makeCliWorkspace("status-claimed");
  ws.installUdevadm();
});
afterEach(() => {
  host.cleanup();
  ws.cleanup();
});

const cli = (args: readonly string[]) =>
  runCliInProcess([...args, ...host.rootArgs(ws.roots)], { kernelIo: () => host.kernel });

const claimed = async (): Promise<unknown> => JSON.parse((await cli(["status", "--json"])).stdout).claimed;

describe("status --json: the claimed devices", () => {
  it("names each claimed device present, its driver, and whether vfio-autobind bound it", async () => {
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
    expect((await cli(["claim", VIRTIO_NET, "--now"])).exitCode).toBe(0);
    fs.writeFileSync(path.join(ws.configDir, "60-broken.conf"), "[Claim]\nIds=zz\n");
    expect(await claimed()).toEqual([]);
  });
});
