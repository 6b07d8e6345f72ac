/**
 * status and explain on a device bound to vfio-pci whose cdev exists (iommufd kernels) and
 * which a VMM holds: both name the group node, the cdev and the holder; status --json
 * reports the claim's Owner=/Mode=. /proc is a fake tree (--proc-root).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeRecord } from "../../src/binder/stateStore.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { holdVfioNode } from "../../support/fakeProc.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle } from "../support/runBundle.js";

const ADDRESS = "0000:00:03.0";
let sys: FakeSysfs;
let ws: CliWorkspace;

beforeEach(() => {
  sys = FakeSysfs.create();
  sys.addDriver("vfio-pci", "vfio_pci");
  sys.addDevice({ address: ADDRESS, vendor: "1af4", device: "1041", driver: "vfio-pci", iommuGroup: 7 });
  fs.mkdirSync(path.join(sys.deviceDir(ADDRESS), "vfio-dev", "vfio2"), { recursive: true });
  fs.writeFileSync(path.join(sys.deviceDir(ADDRESS), "vfio-dev", "vfio2", "dev"), "511:2\n");
  ws = makeCliWorkspace("nodes", { sysfs: sys });
  holdVfioNode(ws, { pid: 4711, comm: "cloud-hyperviso", node: "/dev/vfio/devices/vfio2" });
  fs.mkdirSync(ws.configDir, { recursive: true });
  fs.writeFileSync(path.join(ws.configDir, "10-a.conf"), `[Claim]\nAddress=${ADDRESS}\nOwner=107:107\nMode=0660\n`);
  writeRecord(ws.stateDir, {
    version: 1,
    address: ADDRESS,
    status: "bound",
    module: "vfio_pci",
    driver: "vfio-pci",
    originalDriver: "virtio-pci",
    originalOverride: null,
    time: "2026-11-30T05:00:00.000Z",
  });
});

afterEach(() => ws.cleanup());

const run = (args: string[]) => runBundle([...args, ...ws.rootArgs()]);

const holder = { pid: 4711, command: "cloud-hyperviso", node: "/dev/vfio/devices/vfio2" };

describe("the VFIO nodes of a bound device", () => {
  it("status --json names the group node, the cdev, the holder and the claim's Owner=/Mode=", async () => {
    const status = await run(["status", "--json"]);
    const row = (JSON.parse(status.stdout) as { devices: Record<string, unknown>[] }).devices[0];
    expect(row).toMatchObject({
      address: ADDRESS,
      groupNode: "/dev/vfio/7",
      cdev: "/dev/vfio/devices/vfio2",
      cdevSysfs: "vfio-dev/vfio2",
      holders: [holder],
      owner: { user: "107", group: "107" },
      mode: "0660",
    });
  });

  it("status shows them in its table", async () => {
    const status = await run(["status"]);
    expect(status.stdout).toMatch(/VFIO NODES +OWNER +HELD BY/);
    expect(status.stdout).toContain("/dev/vfio/7 /dev/vfio/devices/vfio2");
    expect(status.stdout).toContain("107:107 0660");
    expect(status.stdout).toContain("cloud-hyperviso(4711)");
  });

  it("explain --json and explain name the nodes, the cdev and the holder", async () => {
    const json = JSON.parse((await run(["explain", ADDRESS, "--json"])).stdout) as { vfio: unknown };
    expect(json.vfio).toEqual({
      groupNode: "/dev/vfio/7",
      cdev: "/dev/vfio/devices/vfio2",
      cdevSysfs: "vfio-dev/vfio2",
      holders: [holder],
    });
    const text = (await run(["explain", ADDRESS])).stdout;
    expect(text).toContain("vfio nodes   /dev/vfio/7, /dev/vfio/devices/vfio2");
    expect(text).toContain("vfio cdev    vfio-dev/vfio2 (for iommufd VMMs)");
    expect(text).toContain("held by      /dev/vfio/devices/vfio2 is open by cloud-hyperviso (pid 4711)");
  });
});
