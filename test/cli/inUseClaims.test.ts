/**
 * The root can never be held away: a claim on a device the host uses now (a mounted disk
 * under it, an interface that is up, the boot display) is a config error at the claim's
 * line for check, claim and apply, unless it says Force=yes. Fake sysfs and /proc.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addFakeMount } from "../../support/fakeProc.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle } from "../support/runBundle.js";

const NVME = "0000:01:00.0";
const NIC = "0000:00:03.0";
const SPARE = "0000:00:04.0";
const ROOT_IN_USE = "nvme0n1p1 is mounted on /";

let sys: FakeSysfs;
let ws: CliWorkspace;
let configDir: string;

beforeEach(() => {
  sys = FakeSysfs.create();
  sys.addDevice({ address: NVME, vendor: "144d", device: "a808", classCode: "010802", driver: "nvme", iommuGroup: 1 });
  sys.addDevice({ address: NIC, vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 3 });
  sys.addDevice({ address: SPARE, vendor: "1af4", device: "1041", driver: "virtio-pci", iommuGroup: 4 });
  sys.addBlockDevice(NVME, "nvme/nvme0/nvme0n1", "259:0");
  sys.addBlockDevice(NVME, "nvme/nvme0/nvme0n1/nvme0n1p1", "259:1");
  sys.addNetInterface(NIC, "virtio0/net/eth0", "0x1003");
  ws = makeCliWorkspace("inuse", { sysfs: sys });
  ({ configDir } = ws);
  fs.mkdirSync(configDir, { recursive: true });
  addFakeMount(ws.procRoot, { majorMinor: "259:1", source: "/dev/nvme0n1p1", mountPoint: "/" });
  ws.installUdevadm();
});

afterEach(() => ws.cleanup());

const run = (args: string[]) => runBundle([...args, ...ws.rootArgs()]);
const write = (name: string, text: string): string => {
  const file = path.join(configDir, name);
  fs.writeFileSync(file, text);
  return file;
};

describe("a claim on a device the host uses", () => {
  it("is a check error at the claim's file:line, naming each use", async () => {
    const file = write(
      "50-x.conf",
      "# the root disk, by mistake\n\n[Claim]\nAddress=0000:01:*\n[Claim]\nIds=1af4:1041\n",
    );
    const check = await run(["check"]);
    expect(check.exitCode).toBe(1);
    expect(check.stderr.split("\n")).toEqual([
      `${file}:3: [Claim] selects ${NVME}, which the host uses: ${ROOT_IN_USE}; add Force=yes to take it anyway`,
      `${file}:5: [Claim] selects ${NIC}, which the host uses: eth0 is up; add Force=yes to take it anyway`,
      `vfio-autobind: 2 error(s) in ${configDir}; the udev helper and apply will not act until they are fixed`,
    ]);
  });

  it("passes check with Force=yes, or when an [Exclude] keeps the device out", async () => {
    write("50-x.conf", `[Claim]\nAddress=${NVME}\nForce=yes\n`);
    write("60-nics.conf", `[Claim]\nIds=1af4:1041\n[Exclude]\nAddress=${NIC}\n`);
    const check = await run(["check"]);
    expect(check.exitCode).toBe(0);
    expect(check.stderr).not.toContain("which the host uses");
  });

  it("claim refuses it and writes nothing (exit 2); claim --force writes Force=yes", async () => {
    const claim = await run(["claim", NVME]);
    expect(claim.exitCode).toBe(2);
    expect(claim.stderr.split("\n")[0]).toBe(
      `vfio-autobind: not claimed, nothing written: ${configDir}/50-claim-0000_01_00.0.conf:3: [Claim] selects ${NVME}, which the host uses: ${ROOT_IN_USE}; add Force=yes to take it anyway`,
    );
    expect(fs.readdirSync(configDir)).toEqual([]);
    expect(fs.existsSync(ws.rulesFile)).toBe(false);
    const forced = await run(["claim", NVME, "--force"]);
    expect(forced.stderr).toBe("");
    expect(forced.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(configDir, "50-claim-0000_01_00.0.conf"), "utf8")).toContain("\nForce=yes\n");
  });

  it("apply refuses the config and changes nothing; with Force=yes it goes ahead", async () => {
    write("50-x.conf", `[Claim]\nAddress=${NVME}\n`);
    const apply = await run(["apply", "--dry-run"]);
    expect(apply.exitCode).toBe(1);
    expect(apply.stderr).toContain(`50-x.conf:1: [Claim] selects ${NVME}, which the host uses: ${ROOT_IN_USE}`);
    expect((await run(["apply"])).exitCode).toBe(1);
    expect(fs.existsSync(ws.rulesFile)).toBe(false);
    write("50-x.conf", `[Claim]\nAddress=${NVME}\nForce=yes\n`);
    const forced = await run(["apply", "--dry-run"]);
    expect(forced.stdout).toContain(`${NVME}: would bind to vfio_pci (dry run, nothing written)`);
    expect(forced.exitCode).toBe(0);
  });

  it("is not judged where no /sys is mounted (a chroot or an image build)", async () => {
    const image = makeCliWorkspace("inuse-image");
    try {
      addFakeMount(image.procRoot, { majorMinor: "259:1", source: "/dev/nvme0n1p1", mountPoint: "/" });
      fs.mkdirSync(image.configDir, { recursive: true });
      fs.writeFileSync(path.join(image.configDir, "50-x.conf"), `[Claim]\nAddress=${NVME}\n`);
      const check = await runBundle(["check", ...image.rootArgs()]);
      expect(check.exitCode).toBe(0);
      expect(check.stderr).not.toContain("which the host uses");
    } finally {
      image.cleanup();
    }
  });
});
