/**
 * A better driver arrives: `apply --moves-only` (what the path unit and the package
 * triggers run) moves claimed devices from the VFIO driver they are on to a variant
 * installed since, in-process over the simulated kernel; status says who waits and why.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyClaims } from "../../src/apply/applyClaims.js";
import type { BindEnvironment } from "../../src/binder/bindDevice.js";
import { removeRecord } from "../../src/binder/stateStore.js";
import { readClaimConfig } from "../../src/config/readClaimConfig.js";
import { moduleFiles } from "../../src/kmod/moduleFiles.js";
import { readVfioAliases } from "../../src/kmod/readVfioAliases.js";
import { formatInstalled } from "../../src/policy/moveVerdict.js";
import { holdVfioNode } from "../../support/fakeProc.js";
import { mainlineVariantsAlias } from "../../support/fixtures.js";
import { SimulatedKernel } from "../../support/simulatedKernel.js";
import {
  makeSimulatedHost,
  UNBOUND_VIRTIO_BLK,
  vfioDrivers,
  VIRTIO_NET,
  type SimulatedHost,
} from "../../support/simulatedHost.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

const GENERIC_ONLY = "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n";

let host: SimulatedHost;
let configDir: string;
let rulesFile: string;
beforeEach(() => {
  host = makeSimulatedHost();
  fs.writeFileSync(path.join(host.modulesDir, "modules.alias"), GENERIC_ONLY);
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-config-"));
  rulesFile = path.join(configDir, "rules", "69-vfio-autobind-claims.rules");
});
afterEach(() => {
  host.cleanup();
  fs.rmSync(configDir, { recursive: true, force: true });
});

/** The environment as the modules directory reads now (the simulated host's is read once, at its start). */
const envNow = (overrides: Partial<BindEnvironment> = {}): BindEnvironment =>
  host.env({
    aliasSet: readVfioAliases(host.modulesDir),
    moduleFiles: moduleFiles(host.modulesDir),
    ...overrides,
  });

function apply(options: { movesOnly?: boolean; env?: BindEnvironment } = {}): ReturnType<typeof applyClaims> {
  return applyClaims({
    config: readClaimConfig(configDir),
    configDir,
    rulesFile,
    env: options.env ?? envNow(),
    dryRun: false,
    movesOnly: options.movesOnly ?? false,
    reloadUdev: () => Promise.resolve(null),
  });
}

/** What DKMS does: the module file into updates/dkms, then depmod's new index. */
function installVariant(): Date {
  const file = path.join(host.modulesDir, "updates", "dkms", "virtio_vfio_pci.ko");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "");
  fs.writeFileSync(path.join(host.modulesDir, "modules.dep"), "updates/dkms/virtio_vfio_pci.ko:\n");
  fs.writeFileSync(path.join(host.modulesDir, "modules.alias"), mainlineVariantsAlias());
  return fs.statSync(file).ctime;
}

const groupOf = (address: string): string =>
  path.basename(fs.readlinkSync(path.join(host.tree.deviceDir(address), "iommu_group")));

describe("apply --moves-only", () => {
  it("moves a claimed device from vfio-pci to a variant installed since, with one line that says so", async () => {
    fs.writeFileSync(path.join(configDir, "50-net.conf"), `[Claim]\nAddress=${VIRTIO_NET}\n`);
    await apply();
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");

    const installed = installVariant();
    const report = await apply({ movesOnly: true });
    expect(report.failed).toBe(false);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(report.lines.filter((l) => l.startsWith(VIRTIO_NET))).toEqual([
      `${VIRTIO_NET}: bound to virtio_vfio_pci (module virtio_vfio_pci, rank 1 of 2); moved from vfio-pci: virtio_vfio_pci was installed ${formatInstalled(installed)}`,
    ]);
    // A second run finds nothing left to do and says nothing.
    expect((await apply({ movesOnly: true })).lines).toEqual([]);
  });

  it("leaves a device pinned by Driver= where it is", async () => {
    fs.writeFileSync(path.join(configDir, "50-net.conf"), `[Claim]\nAddress=${VIRTIO_NET}\nDriver=vfio-pci\n`);
    await apply();
    installVariant();
    const report = await apply({ movesOnly: true });
    expect(report.lines.filter((l) => l.includes(VIRTIO_NET))).toEqual([]);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");
  });

  it("leaves a device a VM holds, says who holds it and what to run, and status shows the move waiting", async () => {
    fs.writeFileSync(path.join(configDir, "50-net.conf"), `[Claim]\nAddress=${VIRTIO_NET}\n`);
    await apply();
    const installed = installVariant();
    const group = groupOf(VIRTIO_NET);
    holdVfioNode(host, { pid: 4711, comm: "qemu-system-x86", node: `/dev/vfio/${group}` });
    const waiting = `would move to virtio_vfio_pci (installed ${formatInstalled(installed)}); /dev/vfio/${group} is open by qemu-system-x86 (pid 4711); run "vfio-autobind apply" after the VM stops`;

    const report = await apply({ movesOnly: true });
    expect(report.failed).toBe(false);
    expect(report.lines).toContain(`${VIRTIO_NET}: stays on vfio-pci: ${waiting}`);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");

    const status = await runCliInProcess([...host.rootArgs({ configDir, rulesFile }), "status"], {
      kernelIo: (root) => SimulatedKernel.open(root),
    });
    expect(status.stderr).toContain(`vfio-autobind: ${VIRTIO_NET}: on vfio-pci: ${waiting}`);
    expect(status.exitCode).toBe(3);
    const explain = await runCliInProcess([...host.rootArgs({ configDir, rulesFile }), "explain", VIRTIO_NET], {
      kernelIo: (root) => SimulatedKernel.open(root),
    });
    expect(explain.stdout).toContain(`Change: ${waiting}\n`);
  });

  it("with Move=apply waits for an admin's apply, which moves it", async () => {
    fs.writeFileSync(path.join(configDir, "50-net.conf"), `[Claim]\nAddress=${VIRTIO_NET}\nMove=apply\n`);
    await apply();
    const installed = installVariant();
    const automatic = await apply({ movesOnly: true });
    expect(automatic.lines.find((l) => l.startsWith(VIRTIO_NET))).toMatch(
      /stays on vfio-pci: would move to virtio_vfio_pci \(installed [^)]+\); its claim \(.*50-net\.conf:1\) says Move=apply: run "vfio-autobind apply"$/,
    );
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");
    const admin = await apply();
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(admin.lines.filter((l) => l.startsWith(VIRTIO_NET))).toEqual([
      `${VIRTIO_NET}: bound to virtio_vfio_pci (module virtio_vfio_pci, rank 1 of 2); moved from vfio-pci: virtio_vfio_pci was installed ${formatInstalled(installed)}`,
    ]);
  });

  it("keeps a device where it fell back when the better driver was already there and failed", async () => {
    fs.writeFileSync(path.join(configDir, "50-net.conf"), `[Claim]\nAddress=${VIRTIO_NET}\n`);
    host.cleanup();
    host = makeSimulatedHost({ drivers: vfioDrivers({ virtio_vfio_pci: { load: "fail" } }) });
    installVariant();
    // Bound after the variant was installed: the variant failed then, and the device fell back.
    const env = envNow({ now: () => new Date(Date.now() + 3_600_000) });
    await apply({ env });
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");
    const report = await apply({ movesOnly: true, env });
    expect(report.lines.filter((l) => l.startsWith(VIRTIO_NET))).toEqual([]);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");
  });

  it("binds nothing new and releases nothing: only moves", async () => {
    fs.writeFileSync(path.join(configDir, "50-blk.conf"), `[Claim]\nAddress=${UNBOUND_VIRTIO_BLK}\n`);
    const report = await apply({ movesOnly: true });
    expect(report.lines).toEqual([`wrote ${rulesFile}`]);
    expect(host.kernel.boundDriver(UNBOUND_VIRTIO_BLK)).toBe(null);
  });
});

describe("a removed variant", () => {
  it("status and check say that the next boot gives the device another driver, and leave it bound", async () => {
    fs.writeFileSync(path.join(host.modulesDir, "modules.alias"), mainlineVariantsAlias());
    fs.writeFileSync(path.join(configDir, "50-net.conf"), `[Claim]\nAddress=${VIRTIO_NET}\n`);
    await apply();
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    fs.writeFileSync(path.join(host.modulesDir, "modules.alias"), GENERIC_ONLY);
    const line = `${VIRTIO_NET}: on virtio_vfio_pci: virtio_vfio_pci stays until it is unbound or the system reboots, but module virtio_vfio_pci is no longer installed for this kernel; the next boot gives the device vfio_pci`;
    const adapters = { kernelIo: (root: string) => SimulatedKernel.open(root) };
    const status = await runCliInProcess([...host.rootArgs({ configDir, rulesFile }), "status"], adapters);
    expect(status.stderr).toContain(line);
    // Nothing moves it off the loaded driver, although vfio_pci ranks first now: not even
    // when vfio-autobind has no record of binding it there.
    removeRecord(host.stateDir, VIRTIO_NET);
    expect((await apply({ movesOnly: true })).lines.filter((l) => l.startsWith(VIRTIO_NET))).toEqual([]);
    // A full apply neither moves it nor takes the override it wrote for someone else's.
    const full = await apply();
    expect(full.failed).toBe(false);
    expect(full.lines.filter((l) => l.startsWith(VIRTIO_NET))).toEqual([]);
    const check = await runCliInProcess([...host.rootArgs({ configDir, rulesFile }), "check"], adapters);
    expect(check.stderr).toContain(`vfio-autobind: notice: ${line}`);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
  });
});
