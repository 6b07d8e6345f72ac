/** bind and release against the simulated kernel, in-process. */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bindClaimed } from "../../src/binder/bindClaimed.js";
import { bindDevice } from "../../src/binder/bindDevice.js";
import { parseClaimFile } from "../../src/config/claimConfig.js";
import { attemptsOf, planOf } from "../../src/binder/outcomes.js";
import { releaseDevice } from "../../src/binder/releaseDevice.js";
import { readRecord, recordFile } from "../../src/binder/stateStore.js";
import { readPciDevice } from "../../src/sysfs/pciDevice.js";
import { holdVfioNode } from "../../support/fakeProc.js";
import {
  bindRequest,
  BOOT_VGA,
  BRIDGE,
  makeSimulatedHost,
  NVME,
  PF,
  UNBOUND_VIRTIO_BLK,
  VF1,
  VF2,
  VIRTIO_NET,
  vfioDrivers,
  type SimulatedHost,
} from "../../support/simulatedHost.js";

let host: SimulatedHost | undefined;
afterEach(() => {
  host?.cleanup();
  host = undefined;
});

/** Someone else puts the device on vfio-pci (a driverctl override, say): no record of ours. */
async function bindToVfioPciBehindOurBack(h: SimulatedHost, address: string, hostDriver: string): Promise<void> {
  await h.kernel.loadModule("vfio_pci", 1000);
  h.tree.writeAttribute(address, "driver_override", "vfio-pci\n");
  h.tree.unbindDriver(address, hostDriver);
  h.kernel.writeAttribute(path.join(h.tree.root, "bus/pci/drivers_probe"), address);
}

/** The IOMMU group number of a device of the simulated host. */
const groupOf = (h: SimulatedHost, address: string): string =>
  path.basename(fs.readlinkSync(path.join(h.tree.deviceDir(address), "iommu_group")));

/** A process in the fake /proc with `node` open (a VMM holding the device). */
describe("bind", () => {
  it("binds a bound device to its most specific variant: override, unbind, bind, read back, record", async () => {
    host = makeSimulatedHost();
    const result = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(result).toMatchObject({ status: "bound", module: "virtio_vfio_pci", driver: "virtio_vfio_pci", rank: 1 });
    expect(result.message).toBe(
      `${VIRTIO_NET}: bound to virtio_vfio_pci (module virtio_vfio_pci, rank 1 of 2); taken from virtio-pci`,
    );
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(host.kernel.driverOverride(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(host.kernel.operations.map((o) => `${o.kind} ${o.target} ${o.value ?? ""}`.trim())).toEqual([
      "modprobe virtio_vfio_pci",
      `write bus/pci/devices/${VIRTIO_NET}/driver_override virtio_vfio_pci`,
      `write bus/pci/drivers/virtio-pci/unbind ${VIRTIO_NET}`,
      `write bus/pci/drivers/virtio_vfio_pci/bind ${VIRTIO_NET}`,
    ]);
    expect(readRecord(host.stateDir, VIRTIO_NET)).toEqual({
      version: 1,
      address: VIRTIO_NET,
      status: "bound",
      originalDriver: "virtio-pci",
      originalOverride: null,
      module: "virtio_vfio_pci",
      driver: "virtio_vfio_pci",
      time: "2026-11-24T12:00:00.000Z",
    });
  });

  it("uses the driver name, not the module name, where they differ (vfio_pci registers vfio-pci)", async () => {
    host = makeSimulatedHost();
    const result = await bindDevice(bindRequest(NVME), host.env());
    expect(result).toMatchObject({ status: "bound", module: "vfio_pci", driver: "vfio-pci" });
    expect(host.kernel.driverOverride(NVME)).toBe("vfio-pci");
    expect(host.kernel.boundDriver(NVME)).toBe("vfio-pci");
  });

  it.each(["vfio-pci", "vfio_pci"])(
    "--driver %s pins generic vfio-pci even where a variant ranks higher",
    async (name) => {
      host = makeSimulatedHost();
      const result = await bindDevice(bindRequest(VIRTIO_NET, { driver: name }), host.env());
      expect(result).toMatchObject({ status: "bound", module: "vfio_pci", driver: "vfio-pci" });
      expect(result.candidates).toHaveLength(1);
    },
  );

  it("decides before the lock from the device its caller has just read, without reading it again", async () => {
    host = makeSimulatedHost();
    const env = host.env();
    // The caller saw it on its target already; the tree says otherwise. Only the caller's
    // look counts before the lock, and that look ends the work: nothing is written.
    const onTarget = { ...readPciDevice(host.tree.root, VIRTIO_NET), driver: "virtio_vfio_pci" };
    await host.kernel.loadModule("virtio_vfio_pci", 1000);
    const before = host.kernel.operations.length;
    const result = await bindDevice(bindRequest(VIRTIO_NET, { seen: onTarget }), env);
    expect(result).toMatchObject({ status: "already-bound", driver: "virtio_vfio_pci" });
    expect(host.kernel.operations.length).toBe(before);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
  });

  it("a claimed bind passes on the device its caller read instead of reading it again (the udev helper)", async () => {
    host = makeSimulatedHost();
    const claim = parseClaimFile(`[Claim]\nAddress=${VIRTIO_NET}\n`, "50-net.conf").claims[0];
    if (claim === undefined) throw new Error("the claim did not parse");
    const onTarget = { ...readPciDevice(host.tree.root, VIRTIO_NET), driver: "virtio_vfio_pci" };
    await host.kernel.loadModule("virtio_vfio_pci", 1000);
    const before = host.kernel.operations.length;
    const outcomes = await bindClaimed(VIRTIO_NET, claim, host.env(), {
      dryRun: false,
      isClaimed: () => true,
      device: onTarget,
    });
    expect(outcomes).toMatchObject([{ status: "already-bound", driver: "virtio_vfio_pci" }]);
    expect(host.kernel.operations.length).toBe(before);
  });

  it("reads the device afresh under the lock, whatever its caller saw before", async () => {
    host = makeSimulatedHost();
    const stale = readPciDevice(host.tree.root, VIRTIO_NET);
    await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    const before = host.kernel.operations.length;
    // Seen on virtio-pci, now on its target: the read under the lock finds it there.
    const again = await bindDevice(bindRequest(VIRTIO_NET, { seen: stale }), host.env());
    expect(again).toMatchObject({ status: "already-bound", driver: "virtio_vfio_pci" });
    expect(host.kernel.operations.length).toBe(before);
  });

  it("ignores a device its caller read for another address", async () => {
    host = makeSimulatedHost();
    const other = { ...readPciDevice(host.tree.root, NVME), driver: "virtio_vfio_pci" };
    const result = await bindDevice(bindRequest(VIRTIO_NET, { seen: other }), host.env());
    expect(result).toMatchObject({ status: "bound", driver: "virtio_vfio_pci" });
  });

  it("binds an unbound VF without any unbind", async () => {
    host = makeSimulatedHost();
    const result = await bindDevice(bindRequest(VF1), host.env());
    expect(result).toMatchObject({ status: "bound", driver: "mlx5_vfio_pci" });
    expect(host.kernel.operations.some((o) => o.target.endsWith("/unbind"))).toBe(false);
    expect(readRecord(host.stateDir, VF1)?.originalDriver).toBeNull();
  });

  it("does nothing for a device already on its target driver", async () => {
    host = makeSimulatedHost();
    await bindDevice(bindRequest(VIRTIO_NET), host.env());
    const before = host.kernel.operations.length;
    const again = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(again).toMatchObject({ status: "already-bound", driver: "virtio_vfio_pci" });
    expect(again.message).toBe(`${VIRTIO_NET}: already bound to virtio_vfio_pci`);
    expect(host.kernel.operations.length).toBe(before);
  });

  it("falls back to the next candidate when the best one's probe fails", async () => {
    host = makeSimulatedHost({ drivers: vfioDrivers({ virtio_vfio_pci: { probe: { errno: "EINVAL" } } }) });
    const result = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(result).toMatchObject({ status: "bound", module: "vfio_pci", driver: "vfio-pci", rank: 2 });
    expect(attemptsOf(result).map((a) => [a.module, a.reason])).toEqual([
      ["virtio_vfio_pci", "binding virtio_vfio_pci failed: EINVAL"],
      ["vfio_pci", "bound"],
    ]);
  });

  it("falls back when a module will not load, and when a probe silently binds nothing", async () => {
    host = makeSimulatedHost({ drivers: vfioDrivers({ virtio_vfio_pci: { probe: "silent" }, vfio_pci: {} }) });
    const silent = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(attemptsOf(silent).map((a) => a.reason)).toEqual(["probe bound nothing", "bound"]);
    host.cleanup();
    host = makeSimulatedHost({ drivers: vfioDrivers({ virtio_vfio_pci: { load: "fail" } }) });
    const unloadable = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(unloadable.status).toBe("bound");
    expect(attemptsOf(unloadable)[0]?.reason).toMatch(/^modprobe virtio_vfio_pci failed: .*could not insert/);
  });

  it("restores the original driver and override when every candidate fails", async () => {
    host = makeSimulatedHost({
      drivers: vfioDrivers({ virtio_vfio_pci: { probe: { errno: "EIO" } }, vfio_pci: { load: "timeout" } }),
    });
    host.tree.writeAttribute(VIRTIO_NET, "driver_override", "virtio-pci\n");
    const result = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(result.status).toBe("failed");
    expect(result.message).toBe(
      `${VIRTIO_NET}: not bound: virtio_vfio_pci: binding virtio_vfio_pci failed: EIO; vfio_pci: modprobe vfio_pci timed out after 5 s; restored virtio-pci`,
    );
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    expect(host.kernel.driverOverride(VIRTIO_NET)).toBe("virtio-pci");
    expect(fs.existsSync(recordFile(host.stateDir, VIRTIO_NET))).toBe(false);
  });

  it("leaves a device on the lower candidate it bound earlier instead of churning on every trigger", async () => {
    host = makeSimulatedHost({ drivers: vfioDrivers({ virtio_vfio_pci: { probe: { errno: "EIO" } } }) });
    const first = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(first).toMatchObject({ status: "bound", driver: "vfio-pci", rank: 2 });
    // The simulated kernel, like Linux 6.1 on, gives a device on a VFIO driver its vfio-dev/.
    expect(fs.existsSync(path.join(host.tree.deviceDir(VIRTIO_NET), "vfio-dev"))).toBe(true);
    const writes = host.kernel.operations.length;
    const again = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(again).toMatchObject({ status: "already-bound", driver: "vfio-pci", rank: 2 });
    expect(again.message).toBe(`${VIRTIO_NET}: already bound to vfio-pci (rank 2 of 2; vfio-autobind bound it there)`);
    expect(host.kernel.operations.length).toBe(writes);
  });

  it("tries only the best candidate with --no-fallback", async () => {
    host = makeSimulatedHost({ drivers: vfioDrivers({ virtio_vfio_pci: { probe: { errno: "EIO" } } }) });
    const result = await bindDevice(bindRequest(VIRTIO_NET, { noFallback: true }), host.env());
    expect(result.status).toBe("failed");
    expect(attemptsOf(result).map((a) => a.module)).toEqual(["virtio_vfio_pci"]);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    expect(host.kernel.driverOverride(VIRTIO_NET)).toBeNull();
  });
});

describe("safety verdict", () => {
  it.each([
    [BRIDGE, true, "refused: it is a PCI bridge; only endpoint devices can go to VFIO"],
    [
      PF,
      true,
      "refused: it has 2 VFs enabled and VFIO refuses such a PF; set sriov_numvfs to 0 first, or claim its VFs",
    ],
    [BOOT_VGA, false, "refused: it is the boot display (boot_vga); use --force to take it anyway"],
  ])(
    "refuses %s before writing anything (--force: %s is ignored for hard rules)",
    async (address, evenForced, message) => {
      host = makeSimulatedHost();
      const result = await bindDevice(bindRequest(address, { force: evenForced }), host.env());
      expect(result.status).toBe("refused");
      expect(result.message).toBe(`${address}: ${message}`);
      expect(host.kernel.operations).toEqual([]);
      expect(fs.existsSync(path.join(host.stateDir, "devices"))).toBe(false);
    },
  );

  it("refuses a device whose network interface is up, and takes it with --force", async () => {
    host = makeSimulatedHost();
    const dir = host.tree.deviceDir(VIRTIO_NET);
    fs.mkdirSync(path.join(host.tree.root, "class", "net"), { recursive: true });
    fs.mkdirSync(path.join(dir, "virtio0", "net", "eth2"), { recursive: true });
    fs.symlinkSync(path.join(host.tree.root, "class", "net"), path.join(dir, "virtio0", "net", "eth2", "subsystem"));
    fs.writeFileSync(path.join(dir, "virtio0", "net", "eth2", "flags"), "0x1003\n");
    const refused = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(refused.message).toBe(`${VIRTIO_NET}: refused: eth2 is up; use --force to take it anyway`);
    expect(host.kernel.operations).toEqual([]);
    const forced = await bindDevice(bindRequest(VIRTIO_NET, { force: true }), host.env());
    expect(forced.status).toBe("bound");
    expect(forced.message).toContain("(forced: eth2 is up)");
  });

  it("will not move a device held by a VM from one VFIO driver to another, even with --force", async () => {
    host = makeSimulatedHost();
    await bindToVfioPciBehindOurBack(host, VIRTIO_NET, "virtio-pci");
    // The simulated kernel, like Linux 6.1 on, gives a device on a VFIO driver its vfio-dev/.
    expect(fs.existsSync(path.join(host.tree.deviceDir(VIRTIO_NET), "vfio-dev"))).toBe(true);
    const node = `/dev/vfio/${groupOf(host, VIRTIO_NET)}`;
    holdVfioNode(host, { pid: 4711, comm: "qemu-system-x86", node });
    for (const force of [false, true]) {
      const ops = host.kernel.operations.length;
      const result = await bindDevice(bindRequest(VIRTIO_NET, { force }), host.env());
      expect(result.message).toBe(
        `${VIRTIO_NET}: refused: it is bound to vfio-pci, and ${node} is open by qemu-system-x86 (pid 4711); stop the VM first (--force does not change this: the kernel would block the unbind until it lets go)`,
      );
      expect(host.kernel.operations.length).toBe(ops);
    }
  });

  it("moves a device nobody holds from one VFIO driver to its best one", async () => {
    host = makeSimulatedHost();
    await bindToVfioPciBehindOurBack(host, VIRTIO_NET, "virtio-pci");
    holdVfioNode(host, { pid: 4711, comm: "bash", node: "/dev/null" });
    const result = await bindDevice(bindRequest(VIRTIO_NET), host.env());
    expect(result.status).toBe("bound");
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
  });
});

describe("dry run", () => {
  it("shows the verdict, candidates and writes, and writes nothing", async () => {
    host = makeSimulatedHost();
    const result = await bindDevice(bindRequest(VIRTIO_NET, { dryRun: true }), host.env());
    expect(result.status).toBe("planned");
    expect(result.message).toBe(`${VIRTIO_NET}: would bind to virtio_vfio_pci (dry run, nothing written)`);
    expect(planOf(result)).toContain(`  write ${VIRTIO_NET} to /sys/bus/pci/drivers/virtio-pci/unbind`);
    expect(planOf(result)).toContain("  modprobe virtio_vfio_pci");
    expect(planOf(result).at(-1)).toBe("candidates in order: 1. virtio_vfio_pci, 2. vfio_pci");
    expect(host.kernel.operations).toEqual([]);
    expect(fs.existsSync(path.join(host.stateDir, "devices"))).toBe(false);
    expect(fs.existsSync(path.join(host.stateDir, "locks"))).toBe(false);
  });
});

describe("release", () => {
  it("returns a device to its original driver and override and drops the record", async () => {
    host = makeSimulatedHost();
    host.tree.writeAttribute(NVME, "driver_override", "nvme\n");
    await bindDevice(bindRequest(NVME), host.env());
    expect(host.kernel.boundDriver(NVME)).toBe("vfio-pci");
    const result = await releaseDevice({ address: NVME, force: false, dryRun: false }, host.env());
    expect(result).toMatchObject({ status: "released", driver: "nvme" });
    expect(result.message).toBe(`${NVME}: released; back on nvme`);
    expect(host.kernel.boundDriver(NVME)).toBe("nvme");
    expect(host.kernel.driverOverride(NVME)).toBe("nvme");
    expect(readRecord(host.stateDir, NVME)).toBeNull();
  });

  it("leaves a device unbound when it had no driver before", async () => {
    host = makeSimulatedHost();
    await bindDevice(bindRequest(UNBOUND_VIRTIO_BLK), host.env());
    const result = await releaseDevice({ address: UNBOUND_VIRTIO_BLK, force: false, dryRun: false }, host.env());
    expect(result.message).toBe(`${UNBOUND_VIRTIO_BLK}: released; left unbound, as it was before`);
    expect(host.kernel.boundDriver(UNBOUND_VIRTIO_BLK)).toBeNull();
    expect(host.kernel.driverOverride(UNBOUND_VIRTIO_BLK)).toBeNull();
  });

  it("refuses while a process holds the group node or the cdev, naming it, --force or not; then releases", async () => {
    host = makeSimulatedHost();
    await bindDevice(bindRequest(NVME), host.env());
    expect(host.kernel.boundDriver(NVME)).toBe("vfio-pci");
    const node = `/dev/vfio/${groupOf(host, NVME)}`;
    // As on a kernel with iommufd cdevs (6.6 on): vfio-dev/vfio0 has a dev attribute, so a node.
    fs.writeFileSync(path.join(host.tree.deviceDir(NVME), "vfio-dev", "vfio0", "dev"), "511:0\n");
    holdVfioNode(host, { pid: 4711, comm: "qemu-system-x86", node });
    holdVfioNode(host, { pid: 4800, comm: "crosvm", node: "/dev/vfio/devices/vfio0" });
    for (const force of [false, true]) {
      const ops = host.kernel.operations.length;
      const refused = await releaseDevice({ address: NVME, force, dryRun: false }, host.env());
      expect(refused).toMatchObject({ status: "refused", driver: "vfio-pci" });
      expect(refused.message).toBe(
        `${NVME}: refused: ${node} is open by qemu-system-x86 (pid 4711); /dev/vfio/devices/vfio0 is open by crosvm (pid 4800); stop the VM first (--force does not change this: the kernel would block the unbind until it lets go)`,
      );
      expect(host.kernel.operations.length).toBe(ops);
      expect(readRecord(host.stateDir, NVME)).not.toBeNull();
    }
    const dryRun = await releaseDevice({ address: NVME, force: false, dryRun: true }, host.env());
    expect(dryRun.status).toBe("refused");
    // The VM ends: its /proc entries go, and the release goes through.
    fs.rmSync(path.join(host.procRoot, "4711"), { recursive: true });
    fs.rmSync(path.join(host.procRoot, "4800"), { recursive: true });
    const released = await releaseDevice({ address: NVME, force: false, dryRun: false }, host.env());
    expect(released).toMatchObject({ status: "released", driver: "nvme" });
  });

  it("leaves alone a device it did not bind, unless --force", async () => {
    host = makeSimulatedHost();
    await bindToVfioPciBehindOurBack(host, VF2, "mlx5_core");
    expect(host.kernel.boundDriver(VF2)).toBe("vfio-pci");
    const ops = host.kernel.operations.length;
    const refused = await releaseDevice({ address: VF2, force: false, dryRun: false }, host.env());
    expect(refused.status).toBe("not-ours");
    expect(refused.message).toContain("not bound by vfio-autobind");
    expect(host.kernel.operations.length).toBe(ops);
    const forced = await releaseDevice({ address: VF2, force: true, dryRun: false }, host.env());
    expect(forced.status).toBe("released");
    expect(host.kernel.boundDriver(VF2)).toBe("mlx5_core");
    expect(host.kernel.driverOverride(VF2)).toBeNull();
  });
});

describe("what the device met on its way", () => {
  it("an unbound device is simply bound; one taken from a host driver says so", async () => {
    host = makeSimulatedHost();
    const unbound = await bindDevice(bindRequest(UNBOUND_VIRTIO_BLK), host.env());
    expect(unbound.message).not.toContain("taken from");
    const taken = await bindDevice(bindRequest(NVME), host.env());
    expect(taken.message).toMatch(/; taken from nvme$/);
  });
});
