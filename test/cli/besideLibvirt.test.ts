/**
 * A claimed device that libvirt handed back to its host driver (`virsh nodedev-reattach`, a
 * managed='yes' hostdev whose VM stopped): the udev rules leave it there, `status` and
 * `check` say so as "not applied", and `apply` takes it back. libvirt's reattach is done to
 * the simulated kernel as libvirt does it (src/util/virpci.c): "\n" to driver_override,
 * unbind, drivers_probe.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readRecord } from "../../src/binder/stateStore.js";
import { makeSimulatedHost, NVME, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

let host: SimulatedHost;
let ws: CliWorkspace;
beforeEach(() => {
  host = makeSimulatedHost();
  ws = makeCliWorkspace("libvirt");
  ws.installUdevadm();
});
afterEach(() => {
  host.cleanup();
  ws.cleanup();
});

const cli = (args: readonly string[]) =>
  runCliInProcess([...args, ...host.rootArgs(ws.roots)], { kernelIo: () => host.kernel });

/** What libvirt does to give a device back to the host (virPCIDeviceUnbindFromStub). */
function libvirtReattach(address: string): void {
  const driver = host.kernel.boundDriver(address);
  host.kernel.writeAttribute(host.tree.at(`bus/pci/devices/${address}/driver_override`), "\n");
  host.kernel.writeAttribute(host.tree.at(`bus/pci/drivers/${driver}/unbind`), address);
  host.kernel.writeAttribute(host.tree.at("bus/pci/drivers_probe"), address);
}

describe("a claimed device that libvirt gave back to its host driver", () => {
  it("status and check say so, naming the driver and when vfio-autobind bound it; apply takes it back", async () => {
    expect((await cli(["claim", VIRTIO_NET, "--now"])).exitCode).toBe(0);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(await cli(["status"])).toMatchObject({ exitCode: 0, stderr: "" });
    const boundAt = readRecord(host.stateDir, VIRTIO_NET)?.time;

    libvirtReattach(VIRTIO_NET);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    const line = `${VIRTIO_NET}: claimed, but on virtio-pci since some time after ${boundAt}, when vfio-autobind bound it to virtio_vfio_pci (the kernel keeps no time for a bind); run "vfio-autobind apply" to take it back, or unclaim it`;

    // Not applied: status exits 3, check says it as a notice and fails only with --applied.
    const status = await cli(["status"]);
    expect(status).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${line}\n` });
    expect(status.stdout).toMatch(new RegExp(`^${VIRTIO_NET} +virtio-pci .* expected virtio_vfio_pci *$`, "m"));
    expect(JSON.parse((await cli(["status", "--json"])).stdout)).toMatchObject({
      onHostDriver: [{ address: VIRTIO_NET, driver: "virtio-pci", boundAt, boundTo: "virtio_vfio_pci" }],
    });
    expect(await cli(["check"])).toMatchObject({ exitCode: 0, stderr: `vfio-autobind: notice: ${line}\n` });
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${line}\n` });

    const applied = await cli(["apply"]);
    expect(applied).toMatchObject({ exitCode: 0, stderr: "" });
    expect(applied.stdout).toContain(`${VIRTIO_NET}: bound to virtio_vfio_pci`);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(await cli(["status"])).toMatchObject({ exitCode: 0, stderr: "" });
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 0, stderr: "" });

    // Its record still names the host driver, so release gives it back there.
    expect(readRecord(host.stateDir, VIRTIO_NET)).toMatchObject({ originalDriver: "virtio-pci", status: "bound" });
    expect((await cli(["release", VIRTIO_NET])).exitCode).toBe(0);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
  });

  it("unclaiming it is the other way out: nothing is reported any more", async () => {
    expect((await cli(["claim", NVME, "--now"])).exitCode).toBe(0);
    libvirtReattach(NVME);
    expect(host.kernel.boundDriver(NVME)).toBe("nvme");
    expect((await cli(["status"])).stderr).toMatch(new RegExp(`^vfio-autobind: ${NVME}: claimed, but on nvme since `));
    const unclaimed = await cli(["unclaim", NVME, "--now"]);
    expect(unclaimed.exitCode).toBe(0);
    expect(unclaimed.stdout).toContain(`${NVME}: released; back on nvme (no longer claimed)`);
    expect(host.kernel.boundDriver(NVME)).toBe("nvme");
    expect(await cli(["status"])).toMatchObject({ exitCode: 0, stderr: "" });
  });

  it("a device libvirt moved to another VFIO driver, or one claimed but never bound, is not this state", async () => {
    expect((await cli(["claim", VIRTIO_NET, "--driver", "vfio-pci", "--now"])).exitCode).toBe(0);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");
    // libvirt picks the variant for a managed='yes' hostdev at VM start.
    const dir = `bus/pci/devices/${VIRTIO_NET}`;
    await host.kernel.loadModule("virtio_vfio_pci", 5_000);
    host.kernel.writeAttribute(host.tree.at(`${dir}/driver_override`), "virtio_vfio_pci");
    host.kernel.writeAttribute(host.tree.at("bus/pci/drivers/vfio-pci/unbind"), VIRTIO_NET);
    host.kernel.writeAttribute(host.tree.at("bus/pci/drivers_probe"), VIRTIO_NET);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    const status = await cli(["status", "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ onHostDriver: [] });

    // Claimed without --now: no record, so not "taken back" (the claim covers new devices).
    expect((await cli(["claim", NVME])).exitCode).toBe(0);
    expect(JSON.parse((await cli(["status", "--json"])).stdout)).toMatchObject({ onHostDriver: [] });
  });
});
