/**
 * The rules' compiled decision, end to end over the simulated kernel: the generated rules
 * (as udev evaluates them) hold a claimed undriven device, write the chosen driver's
 * override, probe and load the module, so the device is on its VFIO driver before the
 * helper runs; the helper then only records it. Everything the rules must not touch
 * (a driven device, an admin's override, another kernel, the hold switch) is checked too.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claimRulesFor } from "../../src/apply/applyClaims.js";
import { readRecord } from "../../src/binder/stateStore.js";
import { readClaimConfig } from "../../src/config/readClaimConfig.js";
import { readVfioAliases } from "../../src/kmod/readVfioAliases.js";
import { sysfsPaths } from "../../src/paths.js";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { compiledForOfRules } from "../../src/rules/rulesHeader.js";
import { compileDecisions } from "../../src/rules/compileDecisions.js";
import { decideAddEvent } from "../../src/helper/decideAddEvent.js";
import { capturingLog } from "../../support/capturingLog.js";
import { staleDecisionsReason } from "../../src/rules/writeClaimRules.js";
import {
  HOST_DRIVERS,
  makeSimulatedHost,
  UNBOUND_VIRTIO_BLK,
  VF1,
  VIRTIO_NET,
  vfioDrivers,
  type SimulatedHost,
} from "../../support/simulatedHost.js";
import { evaluateRules, type UdevOptions, type UdevResult } from "../../support/udevRuleEvaluator.js";

const STATIC_RULES = path.resolve(__dirname, "../../rules.d/70-vfio-autobind.rules");
const RELEASE = "6.1.0-42-cloud-amd64";
const DEVICE = UNBOUND_VIRTIO_BLK;

let host: SimulatedHost;
let configDir: string;
let rulesFile: string;
beforeEach(async () => {
  host = makeSimulatedHost();
  fs.mkdirSync(path.join(host.procRoot, "sys", "kernel"), { recursive: true });
  fs.writeFileSync(path.join(host.procRoot, "sys", "kernel", "osrelease"), `${RELEASE}\n`);
  // Loaded once (as apply or an earlier bind does), so the rules know the drivers' names.
  await host.kernel.loadModule("virtio_vfio_pci", 1000);
  await host.kernel.loadModule("vfio_pci", 1000);
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-config-"));
  rulesFile = path.join(configDir, "69-vfio-autobind-claims.rules");
});
afterEach(() => {
  host.cleanup();
  fs.rmSync(configDir, { recursive: true, force: true });
});

function generate(claimText: string): string {
  fs.writeFileSync(path.join(configDir, "50-claim.conf"), claimText);
  const text = claimRulesFor(readClaimConfig(configDir), configDir, host.env());
  fs.writeFileSync(rulesFile, text);
  return text;
}

/**
 * One add event as udevd runs it: the rules (their kmod loads at once, against the simulated
 * kernel), their writes, then the helper. `initramfs: true` is the event in an initramfs made
 * by Debian's udev hook: only the claims file is there (not the packaged rule, so no helper),
 * and no VFIO module, so every load fails.
 */
async function addEvent(
  address: string,
  options: UdevOptions & { initramfs?: boolean } = {},
): Promise<{ udev: UdevResult; driverBeforeHelper: string | null; lines: string[] }> {
  const { initramfs = false, ...udevOptions } = options;
  const udev = evaluateRules(
    initramfs ? [rulesFile] : [STATIC_RULES, rulesFile],
    { kernel: address, subsystem: "pci", dir: host.tree.deviceDir(address) },
    "add",
    {
      sysctl: { "kernel/osrelease": RELEASE },
      sysfsRoot: host.tree.root,
      kmodLoad: (module) => {
        if (initramfs)
          throw new Error(`modprobe: FATAL: Module ${module} not found in directory /lib/modules/${RELEASE}`);
        host.kernel.loadModuleNow(module, 1000);
      },
      ...udevOptions,
    },
  );
  const sys = sysfsPaths(host.tree.root);
  for (const write of udev.attrWrites) {
    const file =
      write.attr === "driver_override"
        ? sys.driverOverride(address)
        : write.attr === "[subsystem/pci]drivers_probe"
          ? sys.driversProbe
          : null;
    if (file === null) throw new Error(`unexpected write ${write.attr}`);
    host.kernel.writeAttribute(file, write.value);
  }
  const driverBeforeHelper = host.kernel.boundDriver(address);
  const log = capturingLog();
  if (udev.run.some((command) => command.endsWith("/udev-helper.js"))) {
    await decideAddEvent(
      { ...udev.env, ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: address },
      { configDir, env: host.env(), log },
    );
  }
  return { udev, driverBeforeHelper, lines: log.lines };
}

describe("stale decisions", () => {
  it("are reported when the running kernel would compile other ones, not for a driver name learnt since", async () => {
    generate(`[Claim]\nAddress=${DEVICE}\n`);
    expect(staleDecisionsReason(rulesFile, () => compileDecisions(host.env()))).toBeNull();
    fs.writeFileSync(path.join(host.procRoot, "sys", "kernel", "osrelease"), "6.12.0-1-amd64\n");
    expect(staleDecisionsReason(rulesFile, () => compileDecisions(host.env()))).toBe(
      `${rulesFile}: its driver decisions were compiled for ${RELEASE}; the running kernel 6.12.0-1-amd64 decides differently now (the helper corrects each device, more slowly); run "vfio-autobind apply"`,
    );
    generate(`[Claim]\nAddress=${DEVICE}\n`);
    expect(staleDecisionsReason(rulesFile, () => compileDecisions(host.env()))).toBeNull();
    await host.kernel.loadModule("mlx5_vfio_pci", 1000); // a driver name learnt since: same decisions
    expect(staleDecisionsReason(rulesFile, () => compileDecisions(host.env()))).toBeNull();
    // A variant installed since (a new module with a vfio_pci alias) changes the ranking.
    fs.appendFileSync(
      path.join(host.modulesDir, "modules.alias"),
      "alias vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i* blk_vfio_pci\n",
    );
    const fresh = { ...host.env(), aliasSet: readVfioAliases(host.modulesDir) };
    expect(staleDecisionsReason(rulesFile, () => compileDecisions(fresh))).toMatch(/decides differently now/);
  });
});

describe("the compiled decision", () => {
  it("binds a claimed undriven device with no process; the helper only records it", async () => {
    const text = generate(`[Claim]\nAddress=${DEVICE}\n`);
    expect(compiledForOfRules(text)?.release).toBe(RELEASE);
    const event = await addEvent(DEVICE);
    expect(event.udev.attrWrites).toEqual([
      { attr: "driver_override", value: HOLD_OVERRIDE },
      { attr: "driver_override", value: "virtio_vfio_pci" },
      { attr: "[subsystem/pci]drivers_probe", value: DEVICE },
    ]);
    expect(event.udev.builtins).toEqual(["kmod load virtio_vfio_pci"]);
    expect(event.driverBeforeHelper).toBe("virtio_vfio_pci");
    expect(event.lines).toEqual([
      expect.stringMatching(
        /^info 0000:00:05\.0: bound to virtio_vfio_pci by the udev rules \(module virtio_vfio_pci, rank 1 of 2\)/,
      ),
    ]);
    expect(readRecord(host.stateDir, DEVICE)).toMatchObject({ held: true, driver: "virtio_vfio_pci" });
  });

  it("writes a claim's pinned driver instead of the ranking's", async () => {
    generate(`[Claim]\nAddress=${DEVICE}\nDriver=vfio-pci\n`);
    const event = await addEvent(DEVICE);
    expect(event.udev.env).toMatchObject({ VFIO_AUTOBIND_PLAN: "pin", VFIO_AUTOBIND_DRIVER: "vfio-pci" });
    expect(event.driverBeforeHelper).toBe("vfio-pci");
    expect(event.lines[0]).toMatch(/bound to vfio-pci by the udev rules/);
  });

  it("in an initramfs without the module (udev's hook copies these rules there), holds; the real root's rules bind", async () => {
    generate(`[Claim]\nAddress=${DEVICE}\nDriver=vfio-pci\n`);
    // A new boot: vfio_pci, known when the rules were made, is not loaded yet.
    fs.rmSync(host.tree.at("bus/pci/drivers/vfio-pci"), { recursive: true });
    const early = await addEvent(DEVICE, { initramfs: true });
    expect(early.udev.builtins).toEqual(["kmod load vfio_pci"]);
    expect(early.udev.attrWrites).toEqual([{ attr: "driver_override", value: HOLD_OVERRIDE }]);
    expect(early.udev.run).toEqual([]);
    expect(early.driverBeforeHelper).toBeNull();

    const root = await addEvent(DEVICE);
    expect(root.driverBeforeHelper).toBe("vfio-pci");
    expect(root.lines).toEqual([expect.stringMatching(/^info 0000:00:05\.0: bound to vfio-pci by the udev rules/)]);
  });

  it("the first matching claim decides, as in the helper", async () => {
    generate(`[Claim]\nAddress=${DEVICE}\nDriver=vfio-pci\n[Claim]\nAddress=0000:00:0*\n`);
    expect((await addEvent(DEVICE)).driverBeforeHelper).toBe("vfio-pci");
  });

  it("on another kernel only holds, and the helper decides", async () => {
    generate(`[Claim]\nAddress=${DEVICE}\n`);
    const event = await addEvent(DEVICE, { sysctl: { "kernel/osrelease": "6.12.0-1-amd64" } });
    expect(event.udev.attrWrites).toEqual([{ attr: "driver_override", value: HOLD_OVERRIDE }]);
    expect(event.udev.builtins).toEqual([]);
    expect(event.driverBeforeHelper).toBeNull();
    expect(event.lines[0]).toMatch(/^info 0000:00:05\.0: bound to virtio_vfio_pci \(module virtio_vfio_pci, rank 1/);
  });

  it("holds only, when the winner's driver name is not known (its module never loaded)", async () => {
    host.kernel.writeAttribute(sysfsPaths(host.tree.root).driverOverride(DEVICE), "\n");
    fs.rmSync(path.join(host.tree.root, "module", "virtio_vfio_pci"), { recursive: true, force: true });
    const text = generate(`[Claim]\nAddress=${DEVICE}\n`);
    expect(text).toContain('ENV{VFIO_AUTOBIND_PLAN_MODULE}="virtio_vfio_pci", ENV{VFIO_AUTOBIND_PLAN_DRIVER}=""');
    const event = await addEvent(DEVICE);
    expect(event.udev.attrWrites).toEqual([{ attr: "driver_override", value: HOLD_OVERRIDE }]);
    expect(event.udev.builtins).toEqual([]);
  });

  it("leaves alone a driven device, an override set by someone else, and everything with the hold switched off", async () => {
    generate(`[Claim]\nAddress=0000:00:0*\n`);
    expect((await addEvent(VIRTIO_NET)).udev.attrWrites).toEqual([]);
    host.kernel.writeAttribute(sysfsPaths(host.tree.root).driverOverride(DEVICE), "pci-stub");
    expect((await addEvent(DEVICE)).udev.attrWrites).toEqual([]);
    host.kernel.writeAttribute(sysfsPaths(host.tree.root).driverOverride(DEVICE), "\n");
    const off = await addEvent(DEVICE, {
      sysctl: { "kernel/osrelease": RELEASE },
      cmdline: "root=/dev/vda vfio_autobind.hold=0",
    });
    expect(off.udev.attrWrites).toEqual([]);
    expect(off.udev.run).toHaveLength(1); // the helper still runs, as before holds existed
  });
});

describe("a hold never outlives the decision behind it", () => {
  it("a device an older initramfs held, and no current claim selects, goes to the kernel at once, with one line", async () => {
    generate(`[Claim]\nAddress=${DEVICE}\nDriver=vfio-pci\n`);
    fs.rmSync(host.tree.at("bus/pci/drivers/vfio-pci"), { recursive: true });
    const early = await addEvent(DEVICE, { initramfs: true });
    expect(host.kernel.driverOverride(DEVICE)).toBe(HOLD_OVERRIDE);
    expect(early.driverBeforeHelper).toBeNull();
    // `unclaim` in the real root since the initramfs was built: the current rules mark nothing.
    generate(`[Claim]\nAddress=0000:77:00.0\n`);
    const root = await addEvent(DEVICE);
    expect(root.udev.attrWrites).toEqual([
      { attr: "driver_override", value: "\n" },
      { attr: "[subsystem/pci]drivers_probe", value: DEVICE },
    ]);
    expect(host.kernel.driverOverride(DEVICE)).toBeNull();
    expect(root.driverBeforeHelper).toBe("virtio-pci");
    expect(root.udev.run).toEqual([
      expect.stringMatching(/^\/bin\/sh -c 'echo .*0000:00:05\.0: held by an older initramfs/),
    ]);
  });

  it("an unheld, unclaimed device gets no write and no process", async () => {
    generate(`[Claim]\nAddress=0000:77:00.0\n`);
    const event = await addEvent(DEVICE);
    expect(event.udev.attrWrites).toEqual([]);
    expect(event.udev.run).toEqual([]);
  });

  it("a VfsOf= claim of an absent PF marks VFs for the helper but holds none", async () => {
    generate(`[Claim]\nVfsOf=0000:99:00.0\n`);
    expect(host.kernel.boundDriver(VF1)).toBeNull();
    const event = await addEvent(VF1);
    expect(event.udev.env["VFIO_AUTOBIND_CLAIM"]).toBeDefined();
    expect(event.udev.attrWrites).toEqual([]);
  });
});

describe("an override someone else set stays theirs", () => {
  beforeEach(() => {
    host.cleanup();
    // vfio-pci's probe fails, so a bind to it cannot succeed.
    host = makeSimulatedHost({
      drivers: [...HOST_DRIVERS, ...vfioDrivers({ vfio_pci: { probe: { errno: "EIO" } } })],
    });
    fs.mkdirSync(path.join(host.procRoot, "sys", "kernel"), { recursive: true });
    fs.writeFileSync(path.join(host.procRoot, "sys", "kernel", "osrelease"), `${RELEASE}\n`);
  });

  it("a pinned claim's failed bind leaves the admin's driver_override=vfio-pci in place", async () => {
    await host.kernel.loadModule("vfio_pci", 1000);
    generate(`[Claim]\nAddress=${DEVICE}\nDriver=vfio-pci\n`);
    host.kernel.writeAttribute(sysfsPaths(host.tree.root).driverOverride(DEVICE), "vfio-pci");
    const event = await addEvent(DEVICE);
    expect(event.udev.env["VFIO_AUTOBIND_DRIVER"]).toBeUndefined();
    expect(host.kernel.driverOverride(DEVICE)).toBe("vfio-pci");
    expect(event.lines.join("\n")).not.toMatch(/cleared the hold/);
  });
});

describe("a device the admin bound to the pinned driver", () => {
  it("is not recorded as bound by the rules, so that release and apply leave the admin's override alone", async () => {
    generate(`[Claim]\nAddress=${DEVICE}\nDriver=vfio-pci\n`);
    host.kernel.writeAttribute(sysfsPaths(host.tree.root).driverOverride(DEVICE), "vfio-pci");
    host.kernel.writeAttribute(sysfsPaths(host.tree.root).driversProbe, DEVICE);
    expect(host.kernel.boundDriver(DEVICE)).toBe("vfio-pci");
    const event = await addEvent(DEVICE);
    expect(event.lines).toEqual([expect.stringMatching(/^info 0000:00:05\.0: already bound to vfio-pci/)]);
    expect(readRecord(host.stateDir, DEVICE)).toBeNull();
  });
});
