/**
 * The role run into an image build: a chroot of the fleet guest root (an overlay over the
 * cached root, so the cache stays as it is) with no /proc, /sys or /dev mounted, reached
 * through community.general.chroot. It installs the package, writes the claims and the
 * rules, binds nothing, and judges a broken claim before writing anything.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../host/command.js";
import { kernelTree, resolveKernelRelease } from "../host/kernelPackages.js";
import { buildFleetRoot } from "./host/fleetRoot.js";
import { builtDeb, runPlaybook, ROLES_DIR } from "./host/playbook.js";
import { NVME } from "./host/fleetMachine.js";

let scratch = "";
let image = "";
let inventory = "";

beforeAll(async () => {
  const kernel = await kernelTree(await resolveKernelRelease());
  const root = await buildFleetRoot(kernel);
  scratch = fs.mkdtempSync("/var/tmp/vfio-autobind-fleet-image-");
  for (const d of ["upper", "work", "image"]) fs.mkdirSync(path.join(scratch, d));
  image = path.join(scratch, "image");
  const layers = `lowerdir=${root.dir},upperdir=${scratch}/upper,workdir=${scratch}/work`;
  await run("mount", ["-t", "overlay", "overlay", "-o", layers, image]);
  inventory = path.join(scratch, "inventory");
  fs.writeFileSync(
    inventory,
    `image ansible_connection=community.general.chroot ansible_host=${image} ansible_python_interpreter=/usr/bin/python3\n`,
  );
});

afterAll(async () => {
  if (image !== "") await run("umount", [image]);
  if (scratch !== "") fs.rmSync(scratch, { recursive: true, force: true });
});

const claims = [
  { name: "a", address: NVME.a, driver: "vfio-pci" },
  { ids: ["10de:2204", "10de:1aef"], group: "bind" },
];
const vars = () => ({ vfio_autobind_package: builtDeb(), vfio_autobind_claims: claims });
const inImage = (file: string): string => path.join(image, file);
const roleFiles = (): string[] =>
  fs
    .readdirSync(inImage("etc/vfio-autobind"))
    .filter((f) => f.startsWith("60-ansible-"))
    .sort();

describe("the role in an image build (a chroot without /sys)", () => {
  it("installs the package, writes the claims and the rules, binds nothing", async () => {
    const first = await runPlaybook({ dir: scratch, inventory, vars: vars() });
    expect(first.counts).toMatchObject({ failed: 0, unreachable: 0 });
    expect(first.counts.changed).toBeGreaterThan(0);
    expect(fs.existsSync(inImage("usr/sbin/vfio-autobind"))).toBe(true);
    expect(roleFiles()).toEqual([
      expect.stringMatching(/^60-ansible-claim-[0-9a-f]{12}\.conf$/),
      "60-ansible-claim-a.conf",
    ]);
    expect(fs.readFileSync(inImage("etc/vfio-autobind/60-ansible-claim-a.conf"), "utf8")).toMatch(
      new RegExp(
        `^# Written by the vfio_autobind Ansible role.*\\n.*\\n\\[Claim\\]\\nAddress=${NVME.a}\\nDriver=vfio-pci\\n$`,
      ),
    );
    const rules = fs.readFileSync(inImage("etc/udev/rules.d/69-vfio-autobind-claims.rules"), "utf8");
    expect(rules).toContain(NVME.a);
    // No bind record: nothing was bound, and the device checks were skipped.
    expect(fs.existsSync(inImage("run/vfio-autobind"))).toBe(false);
    expect(first.output).toMatch(/TASK \[vfio_autobind : Ask vfio-autobind status\] \*+\nskipping/);
  });

  it("changes nothing on a second run", async () => {
    const second = await runPlaybook({ dir: scratch, inventory, vars: vars() });
    expect(second.counts).toMatchObject({ changed: 0, failed: 0 });
  });

  it("fails on a broken claim with check's file:line message and writes nothing", async () => {
    const before = roleFiles().map((f) => fs.readFileSync(inImage(`etc/vfio-autobind/${f}`), "utf8"));
    const broken = await runPlaybook({
      dir: scratch,
      inventory,
      vars: { ...vars(), vfio_autobind_claims: [...claims, { name: "broken", ids: "zz" }] },
    });
    expect(broken.counts).toMatchObject({ failed: 1, changed: 0 });
    expect(broken.output).toContain(
      '/etc/vfio-autobind/60-ansible-claim-broken.conf:4: Ids=\\"zz\\": expected vendor:device',
    );
    expect(roleFiles().map((f) => fs.readFileSync(inImage(`etc/vfio-autobind/${f}`), "utf8"))).toEqual(before);
  });

  it("check mode reports a removal and touches nothing; the run then removes only the role's file", async () => {
    const fewer = { ...vars(), vfio_autobind_claims: claims.slice(0, 1) };
    const checked = await runPlaybook({ dir: scratch, inventory, vars: fewer, extraArgs: ["--check", "--diff"] });
    expect(checked.counts).toMatchObject({ failed: 0 });
    expect(checked.counts.changed).toBeGreaterThan(0);
    expect(roleFiles()).toHaveLength(2);
    const removed = await runPlaybook({ dir: scratch, inventory, vars: fewer });
    expect(removed.counts).toMatchObject({ failed: 0 });
    expect(roleFiles()).toEqual(["60-ansible-claim-a.conf"]);
    // The package's own example file is not the role's, and stays.
    expect(fs.existsSync(inImage("etc/vfio-autobind/00-example.conf"))).toBe(true);
  });
});

describe("ansible-lint", () => {
  it("finds nothing in the role", async () => {
    const lint = await execa("ansible-lint", ["vfio_autobind"], {
      cwd: ROLES_DIR,
      reject: false,
      all: true,
      env: { NO_COLOR: "1" },
    });
    expect(lint.all).toContain("0 failure(s), 0 warning(s)");
    expect(lint.exitCode).toBe(0);
  });
});
