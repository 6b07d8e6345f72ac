/**
 * `list` and `explain` as an admin runs them: the built bundle under `node --jitless`,
 * against a fake sysfs tree and a modules directory built from real data.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import { debianModulesAlias, makeModulesDir, mainlineVariantsAlias } from "../../support/fixtures.js";
import { VIRTIO_NET_DEVICE } from "../../support/fakeDevices.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { runBundle } from "../support/runBundle.js";

let sys: FakeSysfs;
let modulesDir: string;
let debianOnlyDir: string;
let emptyDir: string;

beforeAll(() => {
  sys = FakeSysfs.create();
  sys.addDevice({ address: "0000:00:00.0", vendor: "8086", device: "29c0", classCode: "060000", iommuGroup: 0 });
  sys.addDevice(VIRTIO_NET_DEVICE);
  sys.addDevice({
    address: "0000:00:04.0",
    vendor: "1af4",
    device: "1042",
    subsystemVendor: "15b3",
    subsystemDevice: "0061",
    classCode: "010000",
    iommuGroup: 4,
  });
  sys.addDevice({
    address: "0000:00:05.0",
    vendor: "1b36",
    device: "0010",
    classCode: "010802",
    driver: "nvme",
    iommuGroup: 5,
  });
  sys.addDriver("vfio-pci", "vfio_pci");
  modulesDir = makeModulesDir({
    "modules.alias": `${debianModulesAlias()}\n${mainlineVariantsAlias()}\nalias vfio_pci:v00001AF4d00001042sv000015B3sd*bc*sc*i* mlx5_vfio_pci\nalias vfio_pci:v00001AF4d broken line\n`,
  });
  debianOnlyDir = makeModulesDir({ "modules.alias": debianModulesAlias() });
  emptyDir = makeModulesDir({});
});

afterAll(() => {
  sys.remove();
  for (const dir of [modulesDir, debianOnlyDir, emptyDir]) fs.rmSync(dir, { recursive: true, force: true });
});

const globals = () => ["--sysfs-root", sys.root, "--modules-dir", modulesDir];

describe("list", () => {
  it("shows every device with driver, group and best module", async () => {
    const result = await runBundle(["list", ...globals()]);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ADDRESS\s+ID\s+CLASS\s+DRIVER\s+GROUP\s+BEST\s+NAME$/);
    expect(lines).toHaveLength(5);
    // The host bridge (class 0600, header type 0) is never offered a VFIO driver.
    expect(lines[1]).toMatch(/^0000:00:00\.0\s+8086:29c0\s+0600\s+-\s+0\s+-(\s|$)/);
    expect(lines[2]).toMatch(/^0000:00:03\.0\s+1af4:1041\s+0200\s+virtio-pci\s+3\s+virtio_vfio_pci\b/);
    expect(lines[3]).toMatch(/^0000:00:04\.0\s+1af4:1042\s+0100\s+-\s+4\s+mlx5_vfio_pci\b/);
    expect(lines[4]).toMatch(/^0000:00:05\.0\s+1b36:0010\s+0108\s+nvme\s+5\s+vfio_pci\b/);
  });

  it("prints a JSON array with address and best", async () => {
    const result = await runBundle(["list", "--json", ...globals()]);
    expect(result.exitCode).toBe(0);
    const rows = JSON.parse(result.stdout) as {
      address: string;
      best: { module: string; driver: string | null } | null;
    }[];
    expect(rows.map((r) => [r.address, r.best?.module])).toEqual([
      ["0000:00:00.0", undefined],
      ["0000:00:03.0", "virtio_vfio_pci"],
      ["0000:00:04.0", "mlx5_vfio_pci"],
      ["0000:00:05.0", "vfio_pci"],
    ]);
    // vfio_pci is "loaded" in the fake tree, so its real driver name is known
    expect(rows[3]?.best).toEqual({ module: "vfio_pci", driver: "vfio-pci" });
    expect(rows[1]?.best).toEqual({ module: "virtio_vfio_pci", driver: null });
  });

  it("says once that modules.alias is missing and offers generic vfio_pci", async () => {
    const result = await runBundle(["list", "--sysfs-root", sys.root, "--modules-dir", emptyDir, "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr.trim().split("\n")).toEqual([
      `vfio-autobind: warning: ${emptyDir}/modules.alias: missing; offering only the generic vfio_pci module`,
    ]);
    const rows = JSON.parse(result.stdout) as { address: string; best: { module: string } | null }[];
    expect(rows.map((r) => [r.address, r.best?.module])).toEqual([
      ["0000:00:00.0", undefined], // the host bridge: never
      ["0000:00:03.0", "vfio_pci"],
      ["0000:00:04.0", "vfio_pci"],
      ["0000:00:05.0", "vfio_pci"],
    ]);
  });

  it("keeps listing when one device has odd contents, names the file, and exits 1", async () => {
    const odd = FakeSysfs.create();
    try {
      odd.addDevice({ address: "0000:00:03.0", vendor: "1af4", device: "1041" });
      odd.addDevice({ address: "0000:00:04.0", vendor: "1af4", device: "1042" });
      odd.writeAttribute("0000:00:03.0", "class", "zebra\n");
      const result = await runBundle(["list", "--sysfs-root", odd.root, "--modules-dir", modulesDir]);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(/0000:00:04\.0\s+1af4:1042/);
      expect(result.stderr).toContain(
        `${odd.root}/bus/pci/devices/0000:00:03.0/class: expected 0x followed by 6 hex digits, found "zebra"`,
      );
      expect(result.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    } finally {
      odd.remove();
    }
  });
});

describe("explain", () => {
  it("ranks the seed's BlueField case with reasons, and names the winner", async () => {
    const result = await runBundle(["explain", "0000:00:04.0", ...globals()]);
    expect(result.exitCode).toBe(0);
    const out = result.stdout;
    expect(out).toContain("modalias     pci:v00001AF4d00001042sv000015B3sd00000061bc01sc00i00");
    expect(out).toMatch(
      /1\. mlx5_vfio_pci\n\s+pattern\s+vfio_pci:v00001AF4d00001042sv000015B3sd\*bc\*sc\*i\*\n\s+score\s+4 wildcards, 44 literal characters/,
    );
    expect(out).toMatch(/2\. virtio_vfio_pci[\s\S]*ranked\s+below: more wildcards than mlx5_vfio_pci \(5 > 4\)/);
    expect(out).toMatch(/3\. vfio_pci[\s\S]*ranked\s+below: more wildcards than virtio_vfio_pci \(7 > 5\)/);
    expect(out).toContain("Best: mlx5_vfio_pci (driver name known once the module is loaded)");
    // A variant wins, which Kubernetes device plugins skip: the claim that suits them is named.
    expect(out).toContain(
      "\nNote: Kubernetes device plugins (KubeVirt's PCI host devices, the SR-IOV network device plugin) take only devices on vfio-pci and skip one on mlx5_vfio_pci; for them, claim it with Driver=vfio-pci in its claim file (vfio-autobind claim 0000:00:04.0 --driver vfio-pci).\n",
    );
    expect(out).toMatch(
      /Skipped 1 malformed vfio_pci line\(s\):\n\s+.*modules\.alias:\d+: expected "alias <pattern> <module>", found 4 fields/,
    );
  });

  it("gives JSON with device, candidates in rank order, and best", async () => {
    const result = await runBundle(["explain", "/sys/bus/pci/devices/0000:00:03.0", "--json", ...globals()]);
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.device.address).toBe("0000:00:03.0");
    expect(json.device.modalias).toBe("pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00");
    expect(
      json.candidates.map((c: { module: string; pattern: string; wildcards: number }) => [
        c.module,
        c.pattern,
        c.wildcards,
      ]),
    ).toEqual([
      ["virtio_vfio_pci", "vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", 5],
      ["vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*", 7],
    ]);
    expect(json.best).toEqual({ module: "virtio_vfio_pci", driver: null });
    expect(json.devicePlugins).toMatch(
      / take only devices on vfio-pci and skip one on virtio_vfio_pci; .* Driver=vfio-pci /,
    );
  });

  it("names the real driver of a loaded module (vfio_pci registers vfio-pci)", async () => {
    const result = await runBundle([
      "explain",
      "00:05.0",
      "--json",
      "--sysfs-root",
      sys.root,
      "--modules-dir",
      debianOnlyDir,
    ]);
    expect(JSON.parse(result.stdout).best).toEqual({ module: "vfio_pci", driver: "vfio-pci" });
    expect(JSON.parse(result.stdout).devicePlugins).toBeNull();
    const text = await runBundle(["explain", "00:05.0", "--sysfs-root", sys.root, "--modules-dir", debianOnlyDir]);
    expect(text.stdout).toMatch(/\nBest: vfio_pci \(PCI driver vfio-pci\)$/);
    expect(text.stdout).not.toContain("device plugins");
  });

  it("refuses an unknown device with exit 1 and a non-device argument with exit 2", async () => {
    const missing = await runBundle(["explain", "0000:99:00.0", ...globals()]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.trim()).toBe(
      `vfio-autobind: 0000:99:00.0: no such PCI device in ${sys.root}/bus/pci/devices`,
    );
    const bogus = await runBundle(["explain", "eth0", ...globals()]);
    expect(bogus.exitCode).toBe(2);
    expect(bogus.stderr).toMatch(/^vfio-autobind: "eth0" is not a PCI device/);
    const outside = await runBundle(["explain", "/etc/passwd", ...globals()]);
    expect(outside.exitCode).toBe(2);
    expect(outside.stderr).toContain("/etc/passwd: not a path under");
  });
});

describe("bridges (class 06xx)", () => {
  it("explain offers no VFIO driver for the host bridge and says why", async () => {
    const result = await runBundle(["explain", "0000:00:00.0", ...globals()]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("Best: none: it is a bridge (class 0600); only endpoint devices can go to VFIO\n");
    const json = JSON.parse((await runBundle(["explain", "0000:00:00.0", "--json", ...globals()])).stdout);
    expect(json.best).toBeNull();
    expect(json.notForVfio).toBe("it is a bridge (class 0600); only endpoint devices can go to VFIO");
  });

  it("bind refuses the host bridge even with --force, though it has an IOMMU group", async () => {
    const result = await runBundle(["bind", "0000:00:00.0", "--force", "--dry-run", ...globals()]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout.split("\n")[0]).toContain("it is a bridge (class 0600)");
  });
});

describe("devices without an IOMMU group", () => {
  it("list shows no BEST for them, and explain says why, from the one rule bind refuses them by", async () => {
    const bare = FakeSysfs.create();
    try {
      bare.addDevice({ address: "0000:00:03.0", vendor: "1af4", device: "1041", driver: "virtio-pci" });
      const args = ["--sysfs-root", bare.root, "--modules-dir", modulesDir];
      const list = await runBundle(["list", ...args]);
      expect(list.exitCode).toBe(0);
      expect(list.stdout.split("\n")[1]).toMatch(/^0000:00:03\.0\s+1af4:1041\s+0200\s+virtio-pci\s+-\s+-(\s|$)/);
      const rows = JSON.parse((await runBundle(["list", "--json", ...args])).stdout) as { best: unknown }[];
      expect(rows[0]?.best).toBeNull();

      const why = "it has no IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on) and reboot";
      const explain = await runBundle(["explain", "0000:00:03.0", ...args]);
      expect(explain.stdout).toContain("iommu group  none (vfio needs one)\n");
      expect(explain.stdout).toContain(`Best: none: ${why}\n`);
      const bind = await runBundle(["bind", "0000:00:03.0", "--force", "--dry-run", ...args]);
      expect(bind.exitCode).toBe(1);
      expect(bind.stdout.split("\n")[0]).toContain(why);
    } finally {
      bare.remove();
    }
  });
});

describe("command line", () => {
  it.each([
    [["frobnicate"], /Unknown argument: frobnicate/],
    [["list", "--no-such-option"], /Unknown arguments?: no-such-option/],
    [["explain"], /Not enough non-option arguments/],
    [[], /Give a command/],
    [["list", "--sysfs-root"], /Not enough arguments following: sysfs-root/],
  ])("%j is a usage error (exit 2)", async (args, message) => {
    const result = await runBundle(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain("Try 'vfio-autobind --help'.");
  });

  it("has --help on every command and --version from package.json", async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect((await runBundle(["--version"])).stdout.trim()).toBe(pkg.version);
    for (const command of [[], ["list"], ["explain"]]) {
      const help = await runBundle([...command, "--help"]);
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toContain("--sysfs-root");
    }
    expect((await runBundle(["explain", "--help"])).stdout).toContain("explain 0000:3b:00.2");
  });
});
