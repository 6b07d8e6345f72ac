/** The admin's module blacklist in bind, explain and the udev helper. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { planCandidates } from "../../src/binder/bindCandidates.js";
import { bindDevice, type PlannedCandidate } from "../../src/binder/bindDevice.js";
import { formatExplanation } from "../../src/cli/explainCommand.js";
import { buildExplanation } from "../../src/explain/buildExplanation.js";
import { modulePolicyFrom } from "../../src/kmod/modulePolicy.js";
import { readPciDevice } from "../../src/sysfs/pciDevice.js";
import { parseHelperOptions } from "../../src/helper/helperOptions.js";
import { bindRequest, makeSimulatedHost, VIRTIO_NET, type SimulatedHost } from "../../support/simulatedHost.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

let host: SimulatedHost;
let modprobeRoot: string;
beforeEach(() => {
  host = makeSimulatedHost();
  modprobeRoot = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-modprobe-root-"));
});
afterEach(() => {
  host.cleanup();
  fs.rmSync(modprobeRoot, { recursive: true, force: true });
});

const WHERE = "/etc/modprobe.d/no-virtio.conf:3";
const policy = modulePolicyFrom([{ module: "virtio_vfio_pci", rule: "blacklist", where: WHERE }]);

function blacklistFile(text: string): string {
  const dir = path.join(modprobeRoot, "etc", "modprobe.d");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "no-virtio.conf"), text);
  return path.join(dir, "no-virtio.conf");
}

const cli = (args: string[]) =>
  runCliInProcess([...args, ...host.rootArgs({ modprobeRoot })], { kernelIo: () => host.kernel });

describe("a module the admin forbade", () => {
  it("is left out of the plan, and the next candidate is bound", async () => {
    const device = readPciDevice(host.tree.root, VIRTIO_NET);
    expect(
      (planCandidates(host.tree.root, device, host.env().aliasSet, undefined, policy) as PlannedCandidate[]).map(
        (c) => c.module,
      ),
    ).toEqual(["vfio_pci"]);
    const result = await bindDevice(bindRequest(VIRTIO_NET), host.env({ modulePolicy: policy }));
    expect(result).toMatchObject({ status: "bound", module: "vfio_pci", rank: 1 });
    expect(host.kernel.operations.map((o) => o.kind === "modprobe" && o.target)).not.toContain("virtio_vfio_pci");
  });

  it("is refused when pinned, naming where it is forbidden", async () => {
    const result = await bindDevice(
      bindRequest(VIRTIO_NET, { driver: "virtio-vfio-pci" }),
      host.env({ modulePolicy: policy }),
    );
    expect(result.status).toBe("refused");
    expect(result.message).toBe(
      `${VIRTIO_NET}: refused: driver virtio-vfio-pci (module virtio_vfio_pci) is forbidden by blacklist in ${WHERE}`,
    );
    expect(host.kernel.operations).toEqual([]);
  });

  it("shows in explain as skipped, with where, and does not win", () => {
    const device = readPciDevice(host.tree.root, VIRTIO_NET);
    const explanation = buildExplanation(device, host.env().aliasSet, () => null, null, policy);
    expect(explanation.candidates.map((c) => [c.rank, c.module, c.forbidden?.where ?? null])).toEqual([
      [null, "virtio_vfio_pci", WHERE],
      [1, "vfio_pci", null],
    ]);
    expect(explanation.best).toEqual({ module: "vfio_pci", driver: null });
    const text = formatExplanation(explanation);
    expect(text).toContain("  -. virtio_vfio_pci (skipped)\n");
    expect(text).toContain(`     skipped  forbidden by blacklist in ${WHERE}\n`);
    expect(text).toContain("Best: vfio_pci");
  });

  it("is read from --modprobe-root by explain and bind", async () => {
    const file = blacklistFile("# lab host\n\ninstall virtio-vfio-pci /bin/false\n");
    const explain = await cli(["explain", VIRTIO_NET]);
    expect(explain.exitCode).toBe(0);
    expect(explain.stdout).toContain(`     skipped  forbidden by install /bin/false in ${file}:3\n`);
    const bind = await cli(["bind", VIRTIO_NET]);
    expect(bind.exitCode).toBe(0);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("vfio-pci");
  });

  it("is read from the kernel command line under --proc-root", async () => {
    fs.writeFileSync(path.join(host.procRoot, "cmdline"), "quiet module_blacklist=virtio_vfio_pci\n");
    const bind = await cli(["bind", VIRTIO_NET, "--driver", "virtio_vfio_pci"]);
    expect(bind.exitCode).toBe(1);
    expect(bind.stderr + bind.stdout).toContain("is forbidden by module_blacklist= on the kernel command line");
  });
});

describe("the udev helper", () => {
  it("reads the modprobe.d files under --modprobe-root", () => {
    expect(parseHelperOptions(["--modprobe-root", modprobeRoot]).modprobeRoot).toBe(modprobeRoot);
    expect(parseHelperOptions([]).modprobeRoot).toBe("/");
  });
});
