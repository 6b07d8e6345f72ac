/**
 * `check` and `status` right after the package is installed: the example claim file (which
 * claims nothing), no generated rules, no records. Nothing is wrong, so nothing is stale.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle } from "../support/runBundle.js";

const EXAMPLE = path.resolve(__dirname, "../../packaging/files/00-example.conf");

let sys: FakeSysfs;
let ws: CliWorkspace;
let configDir: string;
let rulesFile: string;

beforeEach(() => {
  sys = FakeSysfs.create();
  sys.addDevice({ address: "0000:00:03.0", vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 3 });
  ws = makeCliWorkspace("fresh", { sysfs: sys });
  ({ configDir, rulesFile } = ws);
  fs.mkdirSync(configDir, { recursive: true });
  fs.copyFileSync(EXAMPLE, path.join(configDir, "00-example.conf"));
});

afterEach(() => ws.cleanup());

const run = (args: string[]) => runBundle([...args, ...ws.rootArgs()]);

describe("on a fresh install", () => {
  it("check says there is nothing to check yet and exits 0", async () => {
    const check = await run(["check"]);
    expect(check).toMatchObject({ exitCode: 0, stderr: "" });
    expect(check.stdout).toBe(`${configDir}: no claims yet, so nothing to check; "vfio-autobind claim" makes one`);
  });

  it("status reports no devices and no stale rules", async () => {
    const status = await run(["status"]);
    expect(status).toMatchObject({ exitCode: 0, stderr: "" });
    expect(status.stdout).toBe(`no devices bound by vfio-autobind (records in ${ws.stateDir})`);
    expect(JSON.parse((await run(["status", "--json"])).stdout)).toMatchObject({ staleRules: null });
  });

  it("a valid claim file not applied yet passes check with a notice naming apply; --applied and status fail with 3", async () => {
    fs.writeFileSync(path.join(configDir, "50-nic.conf"), "[Claim]\nAddress=0000:00:03.0\n");
    const stale = `generated rules are stale: ${rulesFile} does not exist yet; run "vfio-autobind apply"`;
    const check = await run(["check"]);
    expect(check).toMatchObject({ exitCode: 0, stderr: `vfio-autobind: notice: ${stale}` });
    expect(check.stdout).toBe(
      `${configDir}: 1 claim(s), 0 exclusion(s), no errors; not applied yet: run the command(s) named above`,
    );
    expect(await run(["check", "--applied"])).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${stale}` });
    expect(await run(["status"])).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${stale}` });
  });

  it("status exits 1 while the claims are invalid, and 3 while a device waits in a hold", async () => {
    fs.writeFileSync(path.join(configDir, "50-bad.conf"), "[Claim]\nIds=nope\n");
    expect(await run(["status"])).toMatchObject({
      exitCode: 1,
      stderr: 'vfio-autobind: generated rules are stale: 1 config error(s); run "vfio-autobind check"',
    });
    fs.rmSync(path.join(configDir, "50-bad.conf"));
    sys.addDevice({ address: "0000:00:04.0", vendor: "1af4", device: "1041", driverOverride: "vfio-autobind-hold" });
    const held = await run(["status"]);
    expect(held.exitCode).toBe(3);
    expect(held.stdout).toContain("0000:00:04.0: held; driver_override is vfio-autobind-hold");
  });
});
