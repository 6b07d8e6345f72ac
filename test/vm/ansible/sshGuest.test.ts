/**
 * The role against a booted Debian host over SSH, as an operator runs it: install, claim and
 * bind; a second run that changes nothing; check mode that touches nothing; a broken claim
 * that fails the play and leaves the old claims and bindings; a claim removed from the
 * variables, whose device is released.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kernelTree, resolveKernelRelease } from "../host/kernelPackages.js";
import { buildFleetRoot } from "./host/fleetRoot.js";
import { bootFleetGuest, type FleetGuest } from "./host/fleetGuest.js";
import { NVME } from "./host/fleetMachine.js";
import { builtDeb, runPlaybook } from "./host/playbook.js";

let scratch = "";
let inventory = "";
let guest: FleetGuest | null = null;

beforeAll(async () => {
  const kernel = await kernelTree(await resolveKernelRelease());
  const root = await buildFleetRoot(kernel);
  scratch = fs.mkdtempSync("/var/tmp/vfio-autobind-fleet-ssh-");
  guest = await bootFleetGuest({ kernel, root, dir: scratch });
  inventory = path.join(scratch, "inventory");
  fs.writeFileSync(inventory, `${guest.inventoryLine("hypervisor")}\n`);
});

afterAll(async () => {
  await guest?.stop();
  if (scratch !== "") fs.rmSync(scratch, { recursive: true, force: true });
});

const claimA = { name: "a", address: NVME.a };
const claimB = { name: "b", address: NVME.b };
const vars = (claims: readonly object[]) => ({ vfio_autobind_package: builtDeb(), vfio_autobind_claims: claims });
const on = async (): Promise<string> => {
  const g = guest as FleetGuest;
  const drivers = await g.ssh(
    Object.values(NVME)
      .map((a) => `echo ${a} $(basename "$(readlink /sys/bus/pci/devices/${a}/driver)")`)
      .join("; "),
  );
  return drivers.stdout.trim();
};
const claimFiles = async (): Promise<string> =>
  (await (guest as FleetGuest).ssh("cd /etc/vfio-autobind && sha256sum 60-ansible-*")).stdout.trim();

describe("the role over SSH against a booted host", () => {
  it("the first run installs the package, claims and binds, and reports changed", async () => {
    expect(await on()).toBe(`${NVME.a} nvme\n${NVME.b} nvme\n${NVME.c} nvme`);
    const first = await runPlaybook({ dir: scratch, inventory, vars: vars([claimA, claimB]) });
    expect(first.counts, first.output).toMatchObject({ failed: 0, unreachable: 0 });
    expect(first.counts.changed).toBeGreaterThan(0);
    expect(await on()).toBe(`${NVME.a} vfio-pci\n${NVME.b} vfio-pci\n${NVME.c} nvme`);
    expect(first.output).toMatch(/TASK \[vfio_autobind : Fail a host whose claimed devices are not bound\] \*+\nok:/);
  });

  it("the second run changes nothing", async () => {
    const second = await runPlaybook({ dir: scratch, inventory, vars: vars([claimA, claimB]) });
    expect(second.counts, second.output).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
  });

  it("check mode after a variable change reports the change and touches nothing", async () => {
    const files = await claimFiles();
    const checked = await runPlaybook({
      dir: scratch,
      inventory,
      vars: vars([claimA, claimB, { name: "c", address: NVME.c }]),
      extraArgs: ["--check", "--diff"],
    });
    expect(checked.counts, checked.output).toMatchObject({ failed: 0 });
    expect(checked.counts.changed).toBeGreaterThan(0);
    expect(checked.output).toContain(`${NVME.c}: would bind`);
    expect(await claimFiles()).toBe(files);
    expect(await on()).toBe(`${NVME.a} vfio-pci\n${NVME.b} vfio-pci\n${NVME.c} nvme`);
  });

  it("a broken claim fails the play with check's file:line message; the old claims and bindings stay", async () => {
    const files = await claimFiles();
    const broken = await runPlaybook({
      dir: scratch,
      inventory,
      vars: vars([claimA, claimB, { name: "broken", ids: "zz" }]),
    });
    expect(broken.counts).toMatchObject({ failed: 1, changed: 0 });
    expect(broken.output).toContain(
      '/etc/vfio-autobind/60-ansible-claim-broken.conf:4: Ids=\\"zz\\": expected vendor:device',
    );
    expect(await claimFiles()).toBe(files);
    expect(await on()).toBe(`${NVME.a} vfio-pci\n${NVME.b} vfio-pci\n${NVME.c} nvme`);
  });

  it("a claim removed from the variables releases its device", async () => {
    const removed = await runPlaybook({ dir: scratch, inventory, vars: vars([claimA]) });
    expect(removed.counts, removed.output).toMatchObject({ failed: 0, unreachable: 0 });
    expect(removed.counts.changed).toBeGreaterThan(0);
    expect(await on()).toBe(`${NVME.a} vfio-pci\n${NVME.b} nvme\n${NVME.c} nvme`);
    expect(await claimFiles()).toMatch(/^[0-9a-f]{64} {2}60-ansible-claim-a\.conf$/);
  });
});
