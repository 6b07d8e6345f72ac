/**
 * `check FILE`: a claim file not installed yet, judged with the installed ones, as a config
 * management tool's validate hook passes it (a temporary file, any name). Errors are named
 * at that file's path:line; nothing is installed or changed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle } from "../support/runBundle.js";

let sys: FakeSysfs;
let ws: CliWorkspace;
let configDir: string;
let staged: string;

beforeEach(() => {
  sys = FakeSysfs.create();
  sys.addDevice({ address: "0000:00:03.0", vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 7 });
  sys.addDevice({ address: "0000:00:04.0", vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 7 });
  ws = makeCliWorkspace("staged", { sysfs: sys });
  ({ configDir } = ws);
  fs.mkdirSync(configDir, { recursive: true });
  fs.writeFileSync(path.join(configDir, "10-nic.conf"), "[Claim]\nAddress=0000:00:03.0\nOwner=107\n");
  // A validate hook's temporary file: its name need not end in .conf.
  staged = path.join(ws.dir, "tmp", "ansible.Xa81c");
  fs.mkdirSync(path.dirname(staged), { recursive: true });
});

afterEach(() => ws.cleanup());

const run = (args: string[]) => runBundle([...args, ...ws.rootArgs()]);
const installed = () => fs.readdirSync(configDir).sort();

describe("check FILE", () => {
  it("names an error at the staged file's path:line and exits 1, installing nothing", async () => {
    fs.writeFileSync(staged, "# from the playbook\n[Claim]\nAddress=0000:00:05.0\nGroup=everything\n");
    const check = await run(["check", staged]);
    expect(check.exitCode).toBe(1);
    expect(check.stdout).toBe("");
    expect(check.stderr.split("\n")).toEqual([
      `${staged}:4: Group="everything": expected ignore, check or bind`,
      `vfio-autobind: 1 error(s) in ${configDir} with ${staged}; installed so, the udev helper and apply would not act`,
    ]);
    expect(installed()).toEqual(["10-nic.conf"]);
  });

  it("passes a file that is fine with the installed ones (exit 0), whatever its name", async () => {
    fs.writeFileSync(staged, "[Claim]\nAddress=0000:00:04.0\nOwner=107\n");
    const check = await run(["check", staged]);
    expect(check).toMatchObject({ exitCode: 0, stderr: "" });
    expect(check.stdout).toBe(`${staged}: no errors; with it, ${configDir} has 2 claim(s), 0 exclusion(s)`);
    expect(installed()).toEqual(["10-nic.conf"]);
  });

  it("judges it with the installed claims: an IOMMU group given two owners is an error at both files", async () => {
    fs.writeFileSync(staged, "[Claim]\nAddress=0000:00:04.0\nOwner=108\n");
    const check = await run(["check", staged]);
    expect(check.exitCode).toBe(1);
    expect(check.stderr).toContain(`${staged}:3: IOMMU group 7 shares one node /dev/vfio/7:`);
    expect(check.stderr).toContain(`${configDir}/10-nic.conf:3: IOMMU group 7 shares one node /dev/vfio/7:`);
  });

  it("--as NAME.conf puts it in place of the installed file of that name", async () => {
    fs.writeFileSync(path.join(configDir, "20-gpu.conf"), "[Claim]\nIds=nope\n");
    expect((await run(["check"])).exitCode).toBe(1);
    fs.writeFileSync(staged, "[Claim]\nIds=10de:2342\n");
    // Added, the broken installed file still counts; in its place, it does not.
    const added = await run(["check", staged]);
    expect(added.exitCode).toBe(1);
    expect(added.stderr).toContain(`${configDir}/20-gpu.conf:2: Ids="nope"`);
    const replacing = await run(["check", staged, "--as", "20-gpu.conf"]);
    expect(replacing).toMatchObject({ exitCode: 0, stderr: "" });
    expect(replacing.stdout).toBe(`${staged}: no errors; with it, ${configDir} has 2 claim(s), 0 exclusion(s)`);
    // The installed file itself, given as FILE, stands in its own place.
    expect((await run(["check", path.join(configDir, "10-nic.conf"), "--as", "20-gpu.conf"])).exitCode).toBe(0);
    expect((await run(["check", path.join(configDir, "20-gpu.conf")])).exitCode).toBe(1);
  });

  it("refuses what does not fit: --as without .conf, --as without FILE, --applied with FILE (exit 2); an unreadable FILE (exit 1)", async () => {
    fs.writeFileSync(staged, "[Claim]\nAddress=0000:00:04.0\n");
    const bad = await run(["check", staged, "--as", "../x.conf"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe(
      'vfio-autobind: --as "../x.conf": expected a file name ending in .conf, such as 50-gpu.conf',
    );
    expect((await run(["check", "--as", "50-gpu.conf"])).exitCode).toBe(2);
    expect((await run(["check", staged, "--applied"])).exitCode).toBe(2);
    const missing = await run(["check", path.join(ws.dir, "tmp", "gone")]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.split("\n")[0]).toBe(`${path.join(ws.dir, "tmp", "gone")}: cannot read: ENOENT`);
    expect(missing.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
