/**
 * apply, the udev add event and a claim's group policy, in-process over the simulated
 * kernel: the fast twins of the spawned-bundle tests in test/cli.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyClaims } from "../../src/apply/applyClaims.js";
import { readRecord } from "../../src/binder/stateStore.js";
import { readClaimConfig } from "../../src/config/readClaimConfig.js";
import { statePaths } from "../../src/paths.js";
import { decideAddEvent } from "../../src/helper/decideAddEvent.js";
import { capturingLog } from "../../support/capturingLog.js";
import { holdVfioNode } from "../../support/fakeProc.js";
import { makeSimulatedHost, NVME, PF, VF1, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { evaluateRules } from "../../support/udevRuleEvaluator.js";

let host: SimulatedHost;
let configDir: string;
let rulesFile: string;
beforeEach(() => {
  host = makeSimulatedHost();
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-config-"));
  rulesFile = path.join(configDir, "rules", "69-vfio-autobind-claims.rules");
});
afterEach(() => {
  host.cleanup();
  fs.rmSync(configDir, { recursive: true, force: true });
});

function claimFile(name: string, text: string): void {
  fs.writeFileSync(path.join(configDir, name), text);
}

function apply(dryRun = false): ReturnType<typeof applyClaims> {
  return applyClaims({
    config: readClaimConfig(configDir),
    configDir,
    rulesFile,
    env: host.env(),
    dryRun,
    reloadUdev: () => Promise.resolve(null),
  });
}

describe("applyClaims", () => {
  it("writes the rules, binds what is claimed, and releases what no claim selects any more", async () => {
    claimFile("50-net.conf", `[Claim]\nAddress=${VIRTIO_NET}\n`);
    const first = await apply();
    expect(first.failed).toBe(false);
    expect(first.lines).toEqual([
      `wrote ${rulesFile}`,
      `${VIRTIO_NET}: bound to virtio_vfio_pci (module virtio_vfio_pci, rank 1 of 2); taken from virtio-pci`,
    ]);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");

    fs.rmSync(path.join(configDir, "50-net.conf"));
    const second = await apply();
    expect(second.lines).toContain(`${VIRTIO_NET}: released; back on virtio-pci (no longer claimed)`);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
  });

  it("does not release a device a VM holds when its claim goes away; says who, and releases it once it is free", async () => {
    claimFile("50-net.conf", `[Claim]\nAddress=${VIRTIO_NET}\n`);
    await apply();
    const group = path.basename(fs.readlinkSync(path.join(host.tree.deviceDir(VIRTIO_NET), "iommu_group")));
    const vm = path.join(host.procRoot, "4711");
    holdVfioNode(host, { pid: 4711, comm: "qemu-system-x86", node: `/dev/vfio/${group}` });
    fs.rmSync(path.join(configDir, "50-net.conf"));
    const held = await apply();
    expect(held.failed).toBe(true);
    expect(held.lines).toContain(
      `${VIRTIO_NET}: refused: /dev/vfio/${group} is open by qemu-system-x86 (pid 4711); stop the VM first (--force does not change this: the kernel would block the unbind until it lets go) (no longer claimed)`,
    );
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    fs.rmSync(vm, { recursive: true });
    const free = await apply();
    expect(free.failed).toBe(false);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
  });

  it("writes Owner=/Mode= rules for the claimed device's group node and cdev", async () => {
    claimFile("50-net.conf", `[Claim]\nAddress=${VIRTIO_NET}\nOwner=107:107\nMode=0660\n`);
    await apply();
    const groupOf = (address: string) =>
      path.basename(fs.readlinkSync(path.join(host.tree.deviceDir(address), "iommu_group")));
    const group = groupOf(VIRTIO_NET);
    const node = (subsystem: string, kernel: string, kernels = [kernel]) =>
      evaluateRules([rulesFile], { subsystem, kernel, kernels, dir: host.tree.root }, "add", {
        sysfsRoot: host.tree.root,
      }).node;
    const owned = { owner: "107", group: "107", mode: "0660" };
    expect(node("vfio", group)).toEqual(owned);
    expect(node("vfio-dev", "vfio0", ["vfio0", "vfio-dev", VIRTIO_NET])).toEqual(owned);
    expect(node("vfio", groupOf(NVME))).toEqual({}); // another device's group node
  });

  it("reports a refused device as a failure, and a dry run changes nothing", async () => {
    claimFile("50-pf.conf", `[Claim]\nAddress=${PF}\n`);
    const dry = await apply(true);
    expect(dry.lines.slice(0, 3)).toEqual([`would create ${rulesFile}:`, "--- /dev/null", `+++ ${rulesFile}`]);
    expect(fs.existsSync(rulesFile)).toBe(false);
    const report = await apply();
    expect(report.failed).toBe(true);
    expect(report.lines.some((l) => l.startsWith(`${PF}: refused: it has 2 VFs enabled`))).toBe(true);
  });

  it("survives a tampered sriov/ state directory: a directory and a name that is no address", async () => {
    const sriov = statePaths(host.stateDir).sriov;
    fs.mkdirSync(path.join(sriov, `${PF}.autoprobe`), { recursive: true });
    fs.writeFileSync(path.join(sriov, "..autoprobe"), "1\n");
    const before = host.kernel.operations.length;
    const report = await apply();
    expect(report.failed).toBe(true);
    expect(report.lines).toContain(
      `${path.join(sriov, "..autoprobe")}: not a record of vfio-autobind (no PCI address in its name); left alone`,
    );
    expect(report.lines.some((l) => l.startsWith(`${PF}: cannot restore sriov_drivers_autoprobe: `))).toBe(true);
    expect(host.kernel.operations.slice(before).filter((o) => o.target.includes("autoprobe"))).toEqual([]);
    expect(fs.existsSync(path.join(host.tree.root, "bus", "pci", "sriov_drivers_autoprobe"))).toBe(false);
  });
});

describe("decideAddEvent", () => {
  const event = (address: string): NodeJS.ProcessEnv => ({
    ACTION: "add",
    SUBSYSTEM: "pci",
    PCI_SLOT_NAME: address,
    DEVPATH: `/devices/pci0000:00/${address}`,
  });

  it("binds a claimed device and logs one line naming the claim", async () => {
    claimFile("50-nvme.conf", `[Claim]\nAddress=${NVME}\n`);
    const log = capturingLog();
    const code = await decideAddEvent(event(NVME), { configDir, env: host.env(), log });
    expect(code).toBe(0);
    expect(log.lines).toEqual([
      `info ${NVME}: bound to vfio-pci (module vfio_pci, rank 1 of 1); taken from nvme; group node /dev/vfio/4 [claim ${path.join(configDir, "50-nvme.conf")}:1]`,
    ]);
    expect(readRecord(host.stateDir, NVME)?.status).toBe("bound");
  });

  it("leaves an unclaimed or excluded device alone and says so", async () => {
    claimFile("50-all.conf", `[Claim]\nAddress=0000:00:*\n[Exclude]\nAddress=${NVME}\n`);
    const log = capturingLog();
    expect(await decideAddEvent(event(NVME), { configDir, env: host.env(), log })).toBe(0);
    expect(await decideAddEvent(event(VF1), { configDir, env: host.env(), log })).toBe(0);
    expect(log.lines).toEqual([
      `info ${NVME}: excluded by ${path.join(configDir, "50-all.conf")}:3; left on nvme`,
      `info ${VF1}: no claim selects it; left on no driver`,
    ]);
    expect(host.kernel.operations).toEqual([]);
  });

  it("a refusal is exit 1 and an error line; a broken config binds nothing", async () => {
    claimFile("50-pf.conf", `[Claim]\nAddress=${PF}\n`);
    const log = capturingLog();
    expect(await decideAddEvent(event(PF), { configDir, env: host.env(), log })).toBe(1);
    expect(log.lines[0]).toMatch(/^error 0000:3b:00\.0: refused: it has 2 VFs enabled/);
    claimFile("60-bad.conf", "[Claim]\nAddress=nonsense\n");
    const broken = capturingLog();
    expect(await decideAddEvent(event(NVME), { configDir, env: host.env(), log: broken })).toBe(1);
    expect(broken.lines[0]).toMatch(/^error 0000:00:04\.0: not bound: .* has 1 error\(s\), first .*60-bad\.conf:2: /);
    expect(host.kernel.operations).toEqual([]);
  });
});

describe("a claim's IOMMU group policy (bindClaimed)", () => {
  const PEER = "0000:00:06.0";
  beforeEach(() => {
    // A second virtio-net in the same IOMMU group as VIRTIO_NET, on its host driver.
    host.tree.addDevice({
      address: PEER,
      vendor: "1af4",
      device: "1041",
      subsystemDevice: "1100",
      driver: "virtio-pci",
      iommuGroup: 3,
    });
  });

  it("Group=check refuses while a peer sits on a host driver, and names it", async () => {
    claimFile("50-net.conf", `[Claim]\nAddress=${VIRTIO_NET}\nGroup=check\n`);
    const report = await apply();
    expect(report.failed).toBe(true);
    expect(report.lines).toContain(
      `${VIRTIO_NET}: refused: IOMMU group 3 also holds ${PEER} (virtio-pci) on a host driver, so no VM could use it; claim it too, or set Group=bind`,
    );
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
  });

  it("Group=bind binds the peer too", async () => {
    claimFile("50-net.conf", `[Claim]\nAddress=${VIRTIO_NET}\nGroup=bind\n`);
    const report = await apply();
    expect(report.failed).toBe(false);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(host.kernel.boundDriver(PEER)).toBe("virtio_vfio_pci");
  });
});
