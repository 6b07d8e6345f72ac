/**
 * bind and release from the command line: the production bundle for what must write
 * nothing (dry run, refusals, usage), and the same CLI over the simulated kernel for real
 * binding, including 64 processes binding sibling VFs of one PF at once.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listRecords, readRecord } from "../../src/binder/stateStore.js";
import { acquireLock } from "../../src/lock/deviceLock.js";
import { buildSimulatedBundle } from "../support/simulatedBundle.js";
import { makeSimulatedHost, NVME, PF, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { runBundle } from "../support/runBundle.js";

let simulated: { file: string; cleanup(): void };
let host: SimulatedHost | undefined;

beforeAll(async () => {
  simulated = await buildSimulatedBundle();
});
afterAll(() => simulated.cleanup());
afterEach(() => {
  host?.cleanup();
  host = undefined;
});

/** Every file and link of a tree with its content, to prove a command wrote nothing. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) out[full] = `-> ${fs.readlinkSync(full)}`;
      else if (entry.isDirectory()) walk(full);
      else out[full] = fs.readFileSync(full).toString("base64");
    }
  };
  walk(root);
  return out;
}

describe("production bundle", () => {
  it("bind --dry-run prints the plan and writes nothing, in sysfs or the state directory", async () => {
    host = makeSimulatedHost();
    const before = snapshot(host.tree.root);
    const result = await runBundle(["bind", VIRTIO_NET, "--dry-run", ...host.rootArgs()]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split("\n")[0]).toBe(
      `${VIRTIO_NET}: would bind to virtio_vfio_pci (dry run, nothing written)`,
    );
    expect(result.stdout).toContain(`write ${VIRTIO_NET} to /sys/bus/pci/drivers/virtio-pci/unbind`);
    expect(snapshot(host.tree.root)).toEqual(before);
    expect(fs.readdirSync(host.stateDir)).toEqual([]);
  });

  it("a refusal exits 1 with one line and writes nothing", async () => {
    host = makeSimulatedHost();
    const before = snapshot(host.tree.root);
    const result = await runBundle(["bind", PF, "--force", ...host.rootArgs()]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe(
      `${PF}: refused: it has 2 VFs enabled and VFIO refuses such a PF; set sriov_numvfs to 0 first, or claim its VFs`,
    );
    expect(snapshot(host.tree.root)).toEqual(before);
  });

  it("release of a device it did not bind exits 1 and touches nothing", async () => {
    host = makeSimulatedHost();
    const result = await runBundle(["release", NVME, ...host.rootArgs()]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(`^${NVME}: not bound by vfio-autobind \\(no record in .*\\); left on nvme; use --force`),
    );
  });

  it("rejects a bad --driver value as one line", async () => {
    host = makeSimulatedHost();
    const result = await runBundle(["bind", VIRTIO_NET, "--driver", "../../evil", ...host.rootArgs()]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('vfio-autobind: --driver "../../evil": not a module or driver name');
  });
});

describe("over the simulated kernel", () => {
  it("binds, prints JSON, and releases", async () => {
    host = makeSimulatedHost();
    const bound = await runBundle(["bind", VIRTIO_NET, "--json", ...host.rootArgs()], { bundle: simulated.file });
    expect(bound.stderr).toBe("");
    expect(bound.exitCode).toBe(0);
    expect(JSON.parse(bound.stdout)).toMatchObject({
      address: VIRTIO_NET,
      status: "bound",
      module: "virtio_vfio_pci",
      driver: "virtio_vfio_pci",
      rank: 1,
    });
    const released = await runBundle(["release", VIRTIO_NET, ...host.rootArgs()], { bundle: simulated.file });
    expect(released.exitCode).toBe(0);
    expect(released.stdout).toBe(`${VIRTIO_NET}: released; back on virtio-pci`);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
  });

  it("64 processes binding sibling VFs of one PF at once all end bound, with no lock left held", async () => {
    host = makeSimulatedHost({ extraVfs: 62 });
    const vfs = fs
      .readdirSync(host.tree.at("bus/pci/devices"))
      .filter((a) => /^0000:3[bc]:/.test(a) && a !== PF)
      .sort();
    expect(vfs).toHaveLength(64);
    // Half of them start on the host VF driver, so both the unbind path and the plain path race.
    for (const vf of vfs.filter((_, i) => i % 2 === 0))
      if (host.kernel.boundDriver(vf) === null) host.tree.bindDriver(vf, "mlx5_core");

    const h = host;
    const results = await Promise.all(
      vfs.map((vf) => runBundle(["bind", vf, ...h.rootArgs()], { bundle: simulated.file })),
    );
    const log = results.map((r, i) => `${vfs[i]} ${r.exitCode} ${r.stdout} ${r.stderr}`).join("\n");
    if (process.env["DEBUG_BURST"]) console.log(log);
    results.forEach((result, i) => {
      expect({ vf: vfs[i], exitCode: result.exitCode, stderr: result.stderr }).toEqual({
        vf: vfs[i],
        exitCode: 0,
        stderr: "",
      });
      expect(result.stdout).toMatch(
        new RegExp(
          `^${vfs[i]}: (bound to mlx5_vfio_pci \\(module mlx5_vfio_pci, rank 1 of 2\\)(; taken from mlx5_core)?|already bound to mlx5_vfio_pci)$`,
        ),
      );
    });
    for (const vf of vfs) {
      expect(host.kernel.boundDriver(vf)).toBe("mlx5_vfio_pci");
      expect(host.kernel.driverOverride(vf)).toBe("mlx5_vfio_pci");
    }
    // A VF that the driver's arrival bound before its own process got there has no record
    // (already bound, not by this run); every record that exists says bound.
    const { records, problems } = listRecords(host.stateDir);
    expect(problems).toEqual([]);
    expect(records.every((r) => r.status === "bound" && r.driver === "mlx5_vfio_pci")).toBe(true);
    expect(readRecord(host.stateDir, vfs[0] as string)?.originalDriver ?? "mlx5_core").toBe("mlx5_core");
    const lockDir = path.join(host.stateDir, "locks");
    for (const file of fs.readdirSync(lockDir)) {
      const lock = await acquireLock(lockDir, file.replace(/\.lock$/, ""), { timeoutMs: 0 });
      lock.release();
    }
  });
});
