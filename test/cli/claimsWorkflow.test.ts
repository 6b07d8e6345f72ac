/**
 * Claims end to end, as a new admin would use them: claim with the CLI, udev's view of
 * the generated rules (which devices would start a process), a simulated add event run
 * the way udev runs it (node --jitless under PR_SET_MDWE, event in the environment),
 * apply after unclaim, check on a broken file, and a burst of 256 VF add events.
 * The kernel below is the simulated one; the kernel log and the journal's socket are stand-ins.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeJournal, type FakeJournal } from "../../support/fakeJournal.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle, runHelperBundle } from "../support/runBundle.js";
import { buildSimulatedBundle, buildSimulatedHelperBundle } from "../support/simulatedBundle.js";
import { makeSimulatedHost, NVME, PF, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { evaluateRules } from "../../support/udevRuleEvaluator.js";

const STATIC_RULES = path.resolve(__dirname, "../../rules.d/70-vfio-autobind.rules");

let simulated: { file: string; cleanup(): void };
let simulatedHelper: { file: string; cleanup(): void };
let host: SimulatedHost;
let journal: FakeJournal;
let ws: CliWorkspace;
let configDir: string;
let rulesFile: string;
let udevadmLog: string;

beforeAll(async () => {
  simulated = await buildSimulatedBundle();
  simulatedHelper = await buildSimulatedHelperBundle();
});
afterAll(() => {
  simulated.cleanup();
  simulatedHelper.cleanup();
});

beforeEach(async () => {
  host = makeSimulatedHost({ extraVfs: 254 });
  journal = await startFakeJournal();
  ws = makeCliWorkspace("claims");
  ({ configDir, rulesFile } = ws);
  udevadmLog = path.join(ws.dir, "udevadm.log");
  ws.installUdevadm(`echo "$@" >> ${udevadmLog}`);
});

afterEach(async () => {
  host.cleanup();
  await journal.close();
  ws.cleanup();
});

const cli = (args: string[]) => runBundle([...args, ...host.rootArgs(ws.roots)], { bundle: simulated.file });

/** udev's add event for one device, run the way the packaged rule runs it. */
const addEvent = (address: string, mdwe = false) =>
  runHelperBundle(host.rootArgs({ configDir, kmsg: journal.kmsg, journalSocket: journal.socket }), {
    bundle: simulatedHelper.file,
    mdwe,
    env: {
      ACTION: "add",
      SUBSYSTEM: "pci",
      PCI_SLOT_NAME: address,
      DEVPATH: `/devices/pci0000:00/${address}`,
      MODALIAS: fs.readFileSync(path.join(host.tree.deviceDir(address), "modalias"), "utf8").trim(),
    },
  });

/** The RUN programs udev would start for a device's add event. */
const udevRuns = (address: string): string[] =>
  evaluateRules([STATIC_RULES, ...(fs.existsSync(rulesFile) ? [rulesFile] : [])], {
    kernel: address,
    subsystem: "pci",
    dir: host.tree.deviceDir(address),
  }).run;

describe("claims, as a new admin uses them", () => {
  it("claim → add event binds and logs one line; an unclaimed device starts no process; unclaim + apply gives it back", async () => {
    const claimed = await cli(["claim", VIRTIO_NET]);
    expect(claimed.stderr).toBe("");
    expect(claimed.exitCode).toBe(0);
    expect(claimed.stdout).toContain(`wrote ${configDir}/50-claim-0000_00_03.0.conf`);
    expect(claimed.stdout).toContain(`it selects ${VIRTIO_NET}`);
    expect(claimed.stdout).toContain(`wrote ${rulesFile}`);
    expect(fs.readFileSync(udevadmLog, "utf8")).toBe("control --reload\n");

    // udev's side: only the claimed device gets a RUN, and it is node --jitless.
    expect(udevRuns(VIRTIO_NET)).toEqual([
      "/usr/bin/node --jitless --min-semi-space-size=4 /usr/lib/vfio-autobind/udev-helper.js",
    ]);
    const devices = fs.readdirSync(host.tree.at("bus/pci/devices"));
    const spawns = devices.filter((d) => udevRuns(d).length > 0);
    expect(spawns).toEqual([VIRTIO_NET]);

    const event = await addEvent(VIRTIO_NET, true);
    expect({ exitCode: event.exitCode, stderr: event.stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect(journal.entries).toEqual([
      {
        identifier: "vfio-autobind",
        priority: 6,
        message: `${VIRTIO_NET}: bound to virtio_vfio_pci (module virtio_vfio_pci, rank 1 of 2); taken from virtio-pci; group node /dev/vfio/3 [claim ${configDir}/50-claim-0000_00_03.0.conf:3]`,
        transport: "kernel",
        pid: expect.any(Number),
      },
    ]);

    const unclaimed = await cli(["unclaim", VIRTIO_NET]);
    expect(unclaimed.exitCode).toBe(0);
    expect(udevRuns(VIRTIO_NET)).toEqual([]);
    const applied = await cli(["apply"]);
    expect(applied.exitCode).toBe(0);
    expect(applied.stdout).toContain(`${VIRTIO_NET}: released; back on virtio-pci (no longer claimed)`);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    const status = await cli(["status"]);
    expect(status.stdout).toBe(`no devices bound by vfio-autobind (records in ${host.stateDir})`);
  });

  it("a second add event (udevadm trigger) changes nothing and says so", async () => {
    await cli(["claim", NVME, "--now"]);
    expect(host.kernel.boundDriver(NVME)).toBe("vfio-pci");
    const writes = host.kernel.operations.length;
    const again = await addEvent(NVME);
    expect(again.exitCode).toBe(0);
    expect(journal.entries.map((e) => e.message)).toEqual([
      `${NVME}: already bound to vfio-pci; group node /dev/vfio/4 [claim ${configDir}/50-claim-0000_00_04.0.conf:3]`,
    ]);
    expect(host.kernel.operations.length).toBe(writes);
  });

  it("check names the file and line of every error, and a broken config binds nothing", async () => {
    fs.mkdirSync(configDir, { recursive: true });
    fs.writeFileSync(path.join(configDir, "10-good.conf"), `[Claim]\nAddress=${VIRTIO_NET}\n`);
    fs.writeFileSync(path.join(configDir, "20-bad.conf"), "# hand edited\n[Claim]\nIds=15b3:101e\nGroup=everything\n");
    const check = await cli(["check"]);
    expect(check.exitCode).toBe(1);
    expect(check.stderr.split("\n")[0]).toBe(
      `${configDir}/20-bad.conf:4: Group="everything": expected ignore, check or bind`,
    );

    const event = await addEvent(VIRTIO_NET);
    expect(event.exitCode).toBe(1);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
    expect(journal.entries).toHaveLength(1);
    expect(journal.entries[0]).toMatchObject({ priority: 3 });
    expect(journal.entries[0]?.message).toBe(
      `${VIRTIO_NET}: not bound: ${configDir} has 1 error(s), first ${configDir}/20-bad.conf:4: Group="everything": expected ignore, check or bind; fix it and run "vfio-autobind check"`,
    );
    const apply = await cli(["apply"]);
    expect(apply.exitCode).toBe(1);
    expect(apply.stderr).toContain("nothing was changed");
    expect(host.kernel.operations).toEqual([]);
  });

  it("check and status say when the generated rules are stale after a hand edit; only check --applied and status fail", async () => {
    await cli(["claim", VIRTIO_NET]);
    expect((await cli(["check", "--applied"])).exitCode).toBe(0);
    fs.appendFileSync(path.join(configDir, "50-claim-0000_00_03.0.conf"), "Force=yes\n");
    const stale = `generated rules are stale: ${rulesFile} was generated from another config; run "vfio-autobind apply"`;
    const check = await cli(["check"]);
    expect(check).toMatchObject({ exitCode: 0, stderr: `vfio-autobind: notice: ${stale}` });
    expect(check.stdout).toBe(
      `${configDir}: 1 claim(s), 0 exclusion(s), no errors; not applied yet: run the command(s) named above`,
    );
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${stale}` });
    const status = await cli(["status"]);
    expect(status).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${stale}` });
    await cli(["apply"]);
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 0, stderr: "" });
    expect((await cli(["status"])).exitCode).toBe(0);
  });

  it("handles a burst of 256 VF add events at once: all bound, no errors, one journal line each", async () => {
    const claimed = await cli(["claim", "--vfs-of", PF]);
    expect(claimed.exitCode).toBe(0);
    const vfs = fs
      .readdirSync(host.tree.at("bus/pci/devices"))
      .filter((a) => /^0000:3[bc]:/.test(a) && a !== PF)
      .sort();
    expect(vfs).toHaveLength(256);
    // The generated rules name all 256 VFs by address, and nothing else.
    expect(vfs.every((vf) => udevRuns(vf).length === 1)).toBe(true);
    expect(udevRuns(PF)).toEqual([]);

    const results = await Promise.all(vfs.map((vf) => addEvent(vf)));
    expect(results.filter((r) => r.exitCode !== 0 || r.stderr !== "")).toEqual([]);
    expect(vfs.filter((vf) => host.kernel.boundDriver(vf) !== "mlx5_vfio_pci")).toEqual([]);
    expect(journal.entries).toHaveLength(256);
    expect(journal.entries.filter((e) => e.priority !== 6)).toEqual([]);
    // 256 Node processes on two cores: room enough on a busy machine; only a hang should fail here.
  }, 240_000);

  it("apply keeps new VFs of a claimed PF off their host driver, and puts that back on unclaim", async () => {
    await cli(["claim", "--vfs-of", PF]);
    const autoprobe = () =>
      fs.readFileSync(path.join(host.tree.deviceDir(PF), "sriov_drivers_autoprobe"), "utf8").trim();
    const applied = await cli(["apply"]);
    expect(applied.stdout).toContain(`${PF}: set sriov_drivers_autoprobe to 0 so new VFs wait for vfio-autobind`);
    expect(autoprobe()).toBe("0");
    await cli(["unclaim", "--vfs-of", PF]);
    const again = await cli(["apply"]);
    expect(again.stdout).toContain(`${PF}: set sriov_drivers_autoprobe back to 1`);
    expect(autoprobe()).toBe("1");
  });
});
