/**
 * The boot-time hold from the command line, through the simulated CLI: `hold-script` (what
 * the initramfs hooks run), the real root's script that every rules update writes, and the
 * staleness of the initramfs holds that apply, check and status report.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generatedPaths } from "../../src/paths.js";
import { makeSimulatedHost, NVME, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { makeCliWorkspace, type CliWorkspace } from "../support/cliWorkspace.js";
import { runBundle } from "../support/runBundle.js";
import { buildSimulatedBundle } from "../support/simulatedBundle.js";

const RELEASE = "6.1.0-28-amd64";

let simulated: { file: string; cleanup(): void };
let host: SimulatedHost;
let ws: CliWorkspace;
let configDir: string;
let rulesFile: string;

beforeAll(async () => {
  simulated = await buildSimulatedBundle();
});
afterAll(() => simulated.cleanup());

beforeEach(() => {
  host = makeSimulatedHost();
  ws = makeCliWorkspace("holdcli");
  ({ configDir, rulesFile } = ws);
  ws.installUdevadm();
});
afterEach(() => {
  host.cleanup();
  ws.cleanup();
});

const cli = (args: string[]) => runBundle([...args, ...host.rootArgs(ws.roots)], { bundle: simulated.file });

const generated = () => generatedPaths(configDir);
const digestLine = (text: string): string => text.split("\n")[0] ?? "";

/**
 * Makes the simulated host look like one with `tool` installed, running RELEASE, and (unless
 * `image: false`) booted from an initramfs image of RELEASE where `tool` writes it.
 */
function installGenerator(tool: "update-initramfs" | "dracut", options: { image?: boolean } = {}): void {
  const file = path.join(ws.dir, tool === "dracut" ? "usr/bin/dracut" : "usr/sbin/update-initramfs");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  fs.mkdirSync(path.join(host.procRoot, "sys", "kernel"), { recursive: true });
  fs.writeFileSync(path.join(host.procRoot, "sys", "kernel", "osrelease"), `${RELEASE}\n`);
  if (options.image === false) return;
  const image = path.join(ws.dir, "boot", tool === "dracut" ? `initramfs-${RELEASE}.img` : `initrd.img-${RELEASE}`);
  fs.mkdirSync(path.dirname(image), { recursive: true });
  fs.writeFileSync(image, "");
}

describe("hold-script", () => {
  it("prints the script of the claims, with the digest the rules carry; the rules update writes the same", async () => {
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    const printed = await cli(["hold-script"]);
    expect(printed.stderr).toBe("");
    expect(printed.exitCode).toBe(0);
    expect(digestLine(printed.stdout)).toMatch(/^# config-digest: [0-9a-f]{16}$/);
    expect(fs.readFileSync(rulesFile, "utf8").split("\n")).toContain(digestLine(printed.stdout));
    expect(printed.stdout).toContain(`\t${VIRTIO_NET})\n`);
    // runBundle drops the last newline of stdout; the file keeps it.
    expect(fs.readFileSync(generated().holdScript, "utf8")).toBe(`${printed.stdout}\n`);
    expect(fs.statSync(generated().holdScript).mode & 0o777).toBe(0o644);

    // Every command that regenerates the rules regenerates the script: unclaim too.
    expect((await cli(["claim", NVME])).exitCode).toBe(0);
    expect(fs.readFileSync(generated().holdScript, "utf8")).toContain(`\t${NVME})\n`);
    expect((await cli(["unclaim", VIRTIO_NET])).exitCode).toBe(0);
    expect(fs.readFileSync(generated().holdScript, "utf8")).not.toContain(`\t${VIRTIO_NET})\n`);
  });

  it("apply writes the script, a dry run writes nothing", async () => {
    fs.mkdirSync(configDir, { recursive: true });
    fs.writeFileSync(path.join(configDir, "10-hand.conf"), `[Claim]\nAddress=${NVME}\n`);
    const dry = await cli(["apply", "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    expect(fs.existsSync(generated().dir)).toBe(false);
    expect(fs.existsSync(rulesFile)).toBe(false);
    expect((await cli(["apply"])).exitCode).toBe(0);
    expect(fs.readFileSync(generated().holdScript, "utf8")).toContain(`\t${NVME})\n`);
  });

  it("--output writes the script, --stamp records the release; --count-claims counts", async () => {
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    const image = path.join(ws.dir, "image", "etc", "vfio-autobind", "generated", "hold-claimed.sh");
    const made = await cli(["hold-script", "--output", image, "--stamp", RELEASE]);
    expect(made).toEqual({ exitCode: 0, stdout: "", stderr: "" });
    const script = fs.readFileSync(image, "utf8");
    expect(script).toBe(fs.readFileSync(generated().holdScript, "utf8"));
    expect(fs.readFileSync(generated().initramfsStamp(RELEASE), "utf8")).toMatch(
      new RegExp(`^${digestLine(script).slice("# config-digest: ".length)} [A-Za-z0-9.~+-]+\n$`),
    );
    expect((await cli(["hold-script", "--count-claims"])).stdout).toBe("1");
    expect((await cli(["unclaim", VIRTIO_NET])).exitCode).toBe(0);
    expect((await cli(["hold-script", "--count-claims"])).stdout).toBe("0");
  });

  it("refuses a release that is not one (exit 2), and a broken config takes the stamp back (exit 1)", async () => {
    const bad = await cli(["hold-script", "--stamp", "../../boot/x"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^vfio-autobind: --stamp "\.\.\/\.\.\/boot\/x": not a kernel release/);

    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    expect((await cli(["hold-script", "--stamp", RELEASE])).exitCode).toBe(0);
    expect(fs.existsSync(generated().initramfsStamp(RELEASE))).toBe(true);
    fs.writeFileSync(path.join(configDir, "90-broken.conf"), "[Claim]\nIds=nope\n");
    const broken = await cli(["hold-script", "--stamp", RELEASE]);
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout).toBe("");
    expect(broken.stderr).toContain(`${configDir}/90-broken.conf:2: Ids="nope"`);
    expect(fs.existsSync(generated().initramfsStamp(RELEASE))).toBe(false);
  });

  it("works in an image build without /sys, Owner= claims included", async () => {
    ws.writeAccounts({
      passwd: "root:x:0:0::/root:/bin/sh\nqemu:x:107:107::/:/bin/false\n",
      group: "root:x:0:\nkvm:x:108:\n",
    });
    const run = (args: string[]) => runBundle([...args, ...ws.rootArgs()], { bundle: simulated.file });
    // Before the fix, listing the devices for Owner= failed with "cannot list PCI devices".
    const claimed = await run(["claim", VIRTIO_NET, "--owner", "qemu:kvm"]);
    expect(claimed.stderr).toBe("");
    expect(claimed.exitCode).toBe(0);
    const printed = await run(["hold-script"]);
    expect(printed.exitCode).toBe(0);
    expect(printed.stdout).toContain(`\t${VIRTIO_NET})\n`);
  });
});

describe("staleness of the initramfs holds", () => {
  it("status, check and apply say when the initramfs holds other claims, with the refresh command", async () => {
    installGenerator("update-initramfs");
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    const refresh = `update-initramfs -u -k ${RELEASE}`;

    const before = await cli(["status"]);
    const unheld = `the initramfs holds are stale: the initramfs of ${RELEASE} holds no claimed device (built before the claims, or without vfio-autobind); run "${refresh}"`;
    expect(before).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${unheld}` });
    // Valid claims: a notice for check, a failure for check --applied.
    expect(await cli(["check"])).toMatchObject({ exitCode: 0, stderr: `vfio-autobind: notice: ${unheld}` });
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 3, stderr: `vfio-autobind: ${unheld}` });

    // The hook ran (update-initramfs): everything agrees.
    expect((await cli(["hold-script", "--stamp", RELEASE])).exitCode).toBe(0);
    expect(await cli(["status"])).toMatchObject({ exitCode: 0, stderr: "" });
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 0, stderr: "" });
    const json = JSON.parse((await cli(["status", "--json"])).stdout) as { staleInitramfs: string | null };
    expect(json.staleInitramfs).toBeNull();

    // A claim made since: stale again, in every command's words.
    expect((await cli(["claim", NVME])).exitCode).toBe(0);
    const stale = `the initramfs of ${RELEASE} holds the devices of an older config than the claims now; run "${refresh}"`;
    expect((await cli(["status"])).stderr).toBe(`vfio-autobind: the initramfs holds are stale: ${stale}`);
    expect(JSON.parse((await cli(["status", "--json"])).stdout)).toMatchObject({ staleInitramfs: stale });
    expect(await cli(["check", "--applied"])).toMatchObject({
      exitCode: 3,
      stderr: `vfio-autobind: the initramfs holds are stale: ${stale}`,
    });
    const applied = await cli(["apply", "--dry-run"]);
    expect(applied.exitCode).toBe(0);
    expect(applied.stderr).toContain(`vfio-autobind: warning: the initramfs holds are stale: ${stale}`);

    // Every claim gone: the initramfs still holds the old ones, which is stale too.
    for (const address of [VIRTIO_NET, NVME]) expect((await cli(["unclaim", address])).exitCode).toBe(0);
    expect((await cli(["status"])).stderr).toContain("holds the devices of an older config");
  });

  it("an initramfs whose hold script another version of vfio-autobind wrote is stale too, same claims or not", async () => {
    installGenerator("update-initramfs");
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    expect((await cli(["hold-script", "--stamp", RELEASE])).exitCode).toBe(0);
    const stamp = generated().initramfsStamp(RELEASE);
    const [digest, version] = fs.readFileSync(stamp, "utf8").trim().split(" ");
    expect(digest).toMatch(/^[0-9a-f]+$/);
    expect(version).toMatch(/^[A-Za-z0-9.~+-]+$/);
    const refresh = `update-initramfs -u -k ${RELEASE}`;
    for (const [text, writer] of [
      [`${digest}\n`, "an older vfio-autobind"],
      [`${digest} 0.0.1\n`, "vfio-autobind 0.0.1"],
    ] as const) {
      fs.writeFileSync(stamp, text);
      expect(await cli(["status"])).toMatchObject({
        exitCode: 3,
        stderr: `vfio-autobind: the initramfs holds are stale: the initramfs of ${RELEASE} holds the hold script of ${writer}, this is ${version}; run "${refresh}"`,
      });
      // What the package's postinst runs after an upgrade says it too.
      const rulesOnly = await cli(["apply", "--rules-only"]);
      expect(rulesOnly.exitCode).toBe(0);
      expect(rulesOnly.stderr).toContain(
        `warning: the initramfs holds are stale: the initramfs of ${RELEASE} holds the hold script of ${writer}`,
      );
    }
    // A stamp that is not one counts as none.
    fs.writeFileSync(stamp, `${digest} 0.0.1 and more\n`);
    expect((await cli(["status"])).stderr).toContain("holds no claimed device");
  });

  it("names dracut's command where dracut made the initramfs", async () => {
    installGenerator("dracut");
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    expect((await cli(["status"])).stderr).toContain(`run "dracut -f --kver ${RELEASE}"`);
  });

  it("says nothing where the running kernel has no initramfs image: the machine boots without one", async () => {
    installGenerator("update-initramfs", { image: false });
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    expect((await cli(["claim", NVME])).exitCode).toBe(0);
    expect(await cli(["status"])).toMatchObject({ exitCode: 0, stderr: "" });
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 0, stderr: "" });
    expect((await cli(["apply", "--dry-run"])).stderr).toBe("");
    // An image of another kernel is not the one this machine booted.
    fs.mkdirSync(path.join(ws.dir, "boot"), { recursive: true });
    fs.writeFileSync(path.join(ws.dir, "boot", "initrd.img-6.1.0-27-amd64"), "");
    expect(await cli(["check", "--applied"])).toMatchObject({ exitCode: 0, stderr: "" });
  });

  it("says nothing without a generator, without a readable release, or with no claim and no stamp", async () => {
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    expect((await cli(["status"])).stderr).toBe(""); // no generator installed
    installGenerator("update-initramfs");
    fs.rmSync(path.join(host.procRoot, "sys"), { recursive: true });
    expect((await cli(["status"])).stderr).toBe(""); // no release to compare (a chroot's /proc)
    installGenerator("update-initramfs");
    expect((await cli(["unclaim", VIRTIO_NET])).exitCode).toBe(0);
    expect((await cli(["status"])).stderr).toBe("");
    expect((await cli(["check"])).exitCode).toBe(0);
  });
});
