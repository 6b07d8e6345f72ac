/**
 * The udev path on the real kernel, with Debian's systemd-udevd in its stock sandbox
 * (MemoryDenyWriteExecute=yes, which the helper's RUN inherits): claims in place before
 * boot (shared/udevClaims.ts, host/bootFiles.ts), hotplug, a claim made at run time plus
 * `udevadm trigger`, and SR-IOV VFs. Every assertion reads what the guest reported: device
 * states, the tool's journal entries, and udevd's own debug log of the helper processes it
 * started (udevd logs at debug level in the suite's guest).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT } from "./host/paths.js";
import type { UdevBootResult } from "./guest/scenarios/udevBoot.js";
import type { UdevHotplugResult } from "./guest/scenarios/udevHotplug.js";
import type { UdevSriovResult } from "./guest/scenarios/udevSriov.js";
import type { VfioOwnershipResult } from "./guest/scenarios/vfioOwnership.js";
import type { VfioOwnershipAccountsResult } from "./guest/scenarios/vfioOwnershipAccounts.js";
import type { UdevTriggerResult } from "./guest/scenarios/udevTrigger.js";
import {
  bootDevices,
  fixtureVariants,
  genericVfio,
  hostDrivers,
  rootPorts,
  sriovUdevController,
  udevBootDevices,
} from "./shared/machineLayout.js";
import type { DeviceState, GuestSnapshot, JournalWindow } from "./shared/protocol.js";
import {
  bootClaimedDevices,
  bootClaimFiles,
  GUEST_CONFIG_DIR,
  udevClaimedDevices,
  udevHotplugDevices,
  udevSriovVfs,
} from "./shared/udevClaims.js";
import { addressesIn, countBy, helperRuns, oncePerDevice, queuedRuns, subjectOf } from "./udevEvidence.js";
import { describeVm, scenarioResult, vmReport } from "./scenarioReport.js";
import { releaseNamed } from "./shared/releases.js";

const VFIO_DRIVERS = new Set<string>([
  genericVfio.driver,
  fixtureVariants.subsys.driver,
  fixtureVariants.generic.driver,
]);
const lateAddress = udevBootDevices.blkLateClaim.address;

function bootSnapshot(): GuestSnapshot {
  const snapshot = vmReport?.snapshots["boot"];
  if (snapshot === undefined) throw new Error("the guest sent no boot snapshot");
  return snapshot;
}

const deviceIn = (devices: readonly DeviceState[], address: string): DeviceState | undefined =>
  devices.find((d) => d.address === address);

/** Driver and override of every device: what "nothing changed" compares. */
const bindings = (
  devices: readonly DeviceState[],
): Record<string, { driver: string | null; override: string | null }> =>
  Object.fromEntries(devices.map((d) => [d.address, { driver: d.driver, override: d.override }]));

/**
 * One event per device in `devices` and nothing else: udevd started the helper exactly once
 * for each (and never for another device), each run exited 0, and the tool wrote exactly
 * one journal line per device, from that very process, naming no other device.
 */
function expectOneDecisionPerDevice(window: JournalWindow, devices: readonly string[]): void {
  const runs = helperRuns(window);
  expect(
    countBy(runs, (r) => r.device),
    "helper processes udevd started, per device",
  ).toEqual(oncePerDevice(devices));
  expect(
    runs.map((r) => [r.device, r.exitCode]),
    "exit status of each helper",
  ).toEqual(runs.map((r) => [r.device, 0]));
  expect(countBy(window.tool, subjectOf), "vfio-autobind journal lines, per device").toEqual(oncePerDevice(devices));
  for (const entry of window.tool) {
    expect(addressesIn(entry.message), entry.message).toEqual([subjectOf(entry)]);
    const run = runs.find((r) => r.device === subjectOf(entry));
    expect(run?.helperPid, `${entry.message}: written by the process udevd started for it`).toBe(entry.pid);
  }
}

describeVm("udev 1: claims in place at boot", () => {
  const result = scenarioResult<UdevBootResult>("udev-boot");

  it("the guest boots with the claim files and the rules generated on the host, and `vfio-autobind check` finds them up to date", () => {
    const bootFiles = vmReport?.bootFiles;
    for (const name of Object.keys(bootClaimFiles)) expect(result.configFiles).toContain(name);
    expect(bootFiles?.configFiles.map((f) => f.slice(GUEST_CONFIG_DIR.length + 1))).toEqual(result.configFiles);
    expect(result.rulesText).toBe(bootFiles?.rules);
    expect(result.rulesText).toContain(`# config-digest: ${bootFiles?.digest}\n`);
    expect(result.check.exitCode).toBe(0);
    expect(result.check.stdout).toMatch(
      /4 claim\(s\), 0 exclusion\(s\), no errors; \/etc\/udev\/rules\.d\/69-vfio-autobind-claims\.rules is up to date/,
    );
  });

  it("the layout's bus numbers hold, so the claims name the devices behind the ports", () => {
    expect(result.portBuses).toEqual(
      Object.fromEntries(Object.values(rootPorts).map((p) => [p.address, p.secondaryBus])),
    );
  });

  it("udevd queued the packaged rule's RUN for the claimed devices only (the generated rules marked them)", () => {
    const queued = queuedRuns(bootSnapshot().sinceBoot);
    expect(queued.map((q) => q.device).sort()).toEqual(Object.keys(bootClaimedDevices).sort());
    // The packaged rule's own RUN line, as installed from the package.
    const ruleText = fs.readFileSync(path.join(REPO_ROOT, "rules.d", "70-vfio-autobind.rules"), "utf8").split("\n");
    const runLine = ruleText.findIndex((line) => line.includes("RUN+=")) + 1;
    for (const q of queued) expect(q.rule).toBe(`/usr/lib/udev/rules.d/70-vfio-autobind.rules:${runLine}`);
  });

  it("every claimed device ends on its most specific variant (the virtio-net on the subsystem fixture, not the device-wide one or vfio-pci)", () => {
    const devices = bootSnapshot().devices;
    for (const [address, driver] of Object.entries(bootClaimedDevices)) {
      expect(deviceIn(devices, address), address).toMatchObject({ driver, override: driver, vfioDev: true });
    }
    expect(bootClaimedDevices[udevBootDevices.netClaimed.address]).toBe(fixtureVariants.subsys.driver);
    const line = bootSnapshot().sinceBoot.tool.find((e) => subjectOf(e) === udevBootDevices.netClaimed.address);
    expect(line?.message).toMatch(
      /^0000:00:08\.0: bound to fixture-vfio-virtio-subsys \(module fixture_vfio_virtio_subsys, rank 1 of 3\)/,
    );
  });

  it("every unclaimed device keeps its host driver and gets no override", () => {
    const unclaimed = bootSnapshot().devices.filter((d) => !(d.address in bootClaimedDevices));
    expect(unclaimed.length).toBeGreaterThan(10);
    for (const device of unclaimed) {
      expect(device, device.address).toMatchObject({
        driver: hostDrivers[device.id] ?? releaseNamed(vmReport?.release).chipsetDrivers[device.id] ?? null,
        override: null,
        vfioDev: false,
      });
      expect(VFIO_DRIVERS.has(device.driver ?? "")).toBe(false);
    }
    // Same ids and classes as the claimed ones, other addresses: the Address= half of each claim decides.
    expect(deviceIn(bootSnapshot().devices, bootDevices.netVariant.address)?.driver).toBe("virtio-pci");
    expect(deviceIn(bootSnapshot().devices, bootDevices.nvme.address)?.driver).toBe("nvme");
  });

  it("no helper ran for an unclaimed device: udevd started it once per claimed device and for nothing else", () => {
    const snapshot = bootSnapshot();
    // A dropped line would make every count below meaningless.
    expect(snapshot.journaldSuppressed).toEqual([]);
    const runs = helperRuns(snapshot.sinceBoot);
    expect(runs.map((r) => r.device).sort()).toEqual(Object.keys(bootClaimedDevices).sort());
    const named = snapshot.sinceBoot.tool.flatMap((e) => addressesIn(e.message));
    expect(named.filter((address) => !(address in bootClaimedDevices))).toEqual([]);
  });
});

describeVm("udev 2: an NVMe controller claimed at boot, already on the built-in nvme when udev runs", () => {
  const result = scenarioResult<UdevBootResult>("udev-boot");
  const address = udevBootDevices.nvmeClaimed.address;

  it("ends on vfio-pci, unbound from nvme by the helper", () => {
    expect(deviceIn(bootSnapshot().devices, address)).toMatchObject({
      id: "1b36:0010",
      driver: genericVfio.driver,
      override: genericVfio.driver,
      vfioDev: true,
    });
    // The record says what it was taken from: nvme had it before udev's helper ran.
    expect(result.records[address]).toMatchObject({
      status: "bound",
      originalDriver: "nvme",
      originalOverride: null,
      module: genericVfio.module,
      driver: genericVfio.driver,
    });
    const line = bootSnapshot().sinceBoot.tool.find((e) => subjectOf(e) === address);
    // The built-in nvme probes it during device_add, before any userspace: the line says so,
    // and names the node a VMM is given (and the cdev, on a kernel with iommufd cdevs).
    expect(line?.message).toMatch(
      new RegExp(
        `^${address.replace(/\./g, "\\.")}: bound to vfio-pci \\(module vfio_pci, rank 1 of 1\\); taken from nvme; group node /dev/vfio/\\d+(, cdev /dev/vfio/devices/vfio\\d+ \\(vfio-dev/vfio\\d+\\))? \\[claim /etc/vfio-autobind/10-vmtest-boot\\.conf:9\\]$`,
      ),
    );
  });

  it("leaves the other NVMe controller (00:07.0, for the nvme-host-driver scenario) on nvme", () => {
    expect(deviceIn(bootSnapshot().devices, bootDevices.nvme.address)).toMatchObject({
      driver: "nvme",
      override: null,
    });
  });
});

describeVm("udev 3: devices hot-plugged through QMP device_add", () => {
  const result = scenarioResult<UdevHotplugResult>("udev-hotplug");

  it("QEMU accepted both, and they appeared where the claims expect them", () => {
    for (const plug of [udevHotplugDevices.claimed, udevHotplugDevices.unclaimed]) {
      expect(vmReport?.hotplugs.find((h) => h.requestId === plug.requestId)?.error).toBeNull();
    }
    expect(result.claimed.address).toBe(udevHotplugDevices.claimed.address);
    expect(result.unclaimed.address).toBe(udevHotplugDevices.unclaimed.address);
  });

  it("the claimed one is bound by udev to its most specific variant", () => {
    expect(result.claimed.device).toMatchObject({
      id: "1af4:1041",
      driver: fixtureVariants.subsys.driver,
      override: fixtureVariants.subsys.driver,
      vfioDev: true,
    });
    expect(result.claimed.secondsToBind).toBeLessThan(45);
    const line = result.window.tool.find((e) => subjectOf(e) === result.claimed.address);
    // virtio_pci is loaded by then, so it may have probed the new device before the helper ran.
    expect(line?.message).toMatch(
      new RegExp(
        `^${result.claimed.address.replace(/\./g, "\\.")}: bound to fixture-vfio-virtio-subsys \\(module fixture_vfio_virtio_subsys, rank 1 of 3\\)(; taken from virtio-pci)?; group node /dev/vfio/\\d+(, cdev [^ ]+ \\([^)]+\\))? \\[claim /etc/vfio-autobind/10-vmtest-boot\\.conf:14\\]$`,
      ),
    );
    expect(line?.message.startsWith(`${result.claimed.address}: `)).toBe(true);
  });

  it("the unclaimed one is left alone: virtio-pci, no override, no helper, no journal line", () => {
    expect(result.unclaimed.device).toMatchObject({
      id: "1af4:1041",
      driver: "virtio-pci",
      override: null,
      vfioDev: false,
    });
    expect(result.settle.exitCode).toBe(0);
    expectOneDecisionPerDevice(result.window, [result.claimed.address]);
  });
});

describeVm("udev 4: a claim made at run time, then udevadm trigger --action=add --subsystem-match=pci", () => {
  const result = scenarioResult<UdevTriggerResult>("udev-trigger");
  const boot = scenarioResult<UdevBootResult>("udev-boot");
  /** Every claimed device present during the triggers: boot, hotplug, SR-IOV and the new claim. */
  const claimedPresent = Object.keys(udevClaimedDevices);

  it("`vfio-autobind claim` writes the claim file and regenerates the rules (up to date for `check`)", () => {
    expect(result.claim.exitCode).toBe(0);
    expect(result.claim.stdout).toContain(`it selects ${lateAddress}\n`);
    expect(result.claim.stdout).toContain("wrote /etc/udev/rules.d/69-vfio-autobind-claims.rules\n");
    const mark = /^KERNEL=="[^"]+", ENV\{VFIO_AUTOBIND_CLAIM\}="(\/etc\/vfio-autobind\/50-claim-[^"]+:\d+)"$/m.exec(
      result.rulesAfterClaim,
    );
    expect(mark?.[0]).toBe(`KERNEL=="${lateAddress}", ENV{VFIO_AUTOBIND_CLAIM}="${mark?.[1] ?? ""}"`);
    expect(result.rulesAfterClaim).toContain(
      `ENV{VFIO_AUTOBIND_CLAIM}=="${mark?.[1] ?? ""}", ENV{VFIO_AUTOBIND_PLAN}="auto"\n`,
    );
    expect(result.checkAfterClaim.exitCode).toBe(0);
    expect(result.checkAfterClaim.stdout).toContain("is up to date");
  });

  it("the first trigger binds the newly claimed device to its best variant and changes nothing else", () => {
    expect(deviceIn(result.before, lateAddress)).toMatchObject({ driver: "virtio-pci", override: null });
    const after = result.first.devices;
    expect(deviceIn(after, lateAddress)).toMatchObject({
      driver: fixtureVariants.generic.driver,
      override: fixtureVariants.generic.driver,
      vfioDev: true,
    });
    const { [lateAddress]: _changed, ...othersAfter } = bindings(after);
    const { [lateAddress]: _was, ...othersBefore } = bindings(result.before);
    expect(othersAfter).toEqual(othersBefore);
    for (const [address, driver] of Object.entries(udevClaimedDevices))
      expect(deviceIn(after, address)?.driver, address).toBe(driver);
  });

  it("the first trigger runs the helper once for every claimed device and for no other device", () => {
    expect(result.first.trigger.exitCode).toBe(0);
    expect(result.first.settle.exitCode).toBe(0);
    expectOneDecisionPerDevice(result.first.window, claimedPresent);
    const lines = Object.fromEntries(result.first.window.tool.map((e) => [subjectOf(e), e.message]));
    expect(lines[lateAddress]).toMatch(
      /^0000:00:0a\.0: bound to fixture-vfio-virtio \(module fixture_vfio_virtio, rank 1 of 2\)(; taken from virtio-pci)?; group node \/dev\/vfio\/\d+.* \[claim \/etc\/vfio-autobind\/50-claim-/,
    );
    for (const address of claimedPresent.filter((a) => a !== lateAddress)) {
      expect(lines[address]).toMatch(
        new RegExp(
          `^${address.replace(/\./g, "\\.")}: already bound to ${udevClaimedDevices[address]}; group node /dev/vfio/\\d+.* \\[claim `,
        ),
      );
    }
  });

  it("a second trigger changes nothing: same drivers and overrides, and every decision says already bound", () => {
    expect(bindings(result.second.devices)).toEqual(bindings(result.first.devices));
    expectOneDecisionPerDevice(result.second.window, claimedPresent);
    for (const entry of result.second.window.tool) {
      const address = subjectOf(entry) as string;
      expect(entry.message).toMatch(
        new RegExp(
          `^${address.replace(/\./g, "\\.")}: already bound to ${udevClaimedDevices[address]}; group node /dev/vfio/\\d+.* \\[claim `,
        ),
      );
    }
  });

  it("`unclaim` regenerates the rules to exactly what the host generated for boot", () => {
    expect(result.unclaim.exitCode).toBe(0);
    // Save the driver names: the guest knows those of the modules it has loaded since, the
    // host knew none (they make no decision differ: the digest leaves them out).
    const withoutDriverNames = (text: string): string =>
      text.replace(/ENV\{VFIO_AUTOBIND_PLAN_DRIVER\}="[^"]*"/g, 'ENV{VFIO_AUTOBIND_PLAN_DRIVER}=""');
    expect(withoutDriverNames(result.rulesAfterUnclaim)).toBe(withoutDriverNames(boot.rulesText));
  });

  it("`apply` after `unclaim` gives the device back to virtio-pci, by hand and not through udev", () => {
    expect(result.apply.exitCode).toBe(0);
    expect(result.apply.stdout).toContain(`${lateAddress}: released; back on virtio-pci (no longer claimed)`);
    expect(deviceIn(result.afterApply, lateAddress)).toMatchObject({
      driver: "virtio-pci",
      override: null,
      vfioDev: false,
    });
    const { [lateAddress]: _released, ...othersAfter } = bindings(result.afterApply);
    const { [lateAddress]: _bound, ...othersBefore } = bindings(result.second.devices);
    expect(othersAfter).toEqual(othersBefore);
    expectOneDecisionPerDevice(result.applyWindow, []);
    expect(result.checkAfterApply.exitCode).toBe(0);
  });
});

describeVm("udev 7: SR-IOV VFs claimed with VfsOf=, bound by udev as they appear", () => {
  const result = scenarioResult<UdevSriovResult>("udev-sriov");

  it("`vfio-autobind apply` sets the PF's sriov_drivers_autoprobe to 0", () => {
    expect(result.pfAddress).toBe(sriovUdevController.pfAddress);
    expect(result.autoprobeBefore).toBe("1");
    expect(result.apply.exitCode).toBe(0);
    expect(result.apply.stdout).toContain(
      `${result.pfAddress}: set sriov_drivers_autoprobe to 0 so new VFs wait for vfio-autobind`,
    );
    expect(result.autoprobeAfterApply).toBe("0");
  });

  it("every VF ends on vfio-pci, with no CLI bind: the helper bound each from its add event", () => {
    expect(result.vfs.map((vf) => vf.address)).toEqual(udevSriovVfs);
    for (const vf of result.vfs) {
      expect(vf, vf.address).toMatchObject({
        id: "1b36:0010",
        driver: genericVfio.driver,
        override: genericVfio.driver,
        vfioDev: true,
      });
      // Created without a driver (autoprobe 0), so nothing had to be unbound; held from its
      // add event, so release gives it to the kernel's choice.
      expect(result.records[vf.address], vf.address).toMatchObject({
        status: "bound",
        originalDriver: null,
        driver: genericVfio.driver,
        held: true,
      });
    }
    expect(result.settle.exitCode).toBe(0);
    expectOneDecisionPerDevice(result.window, udevSriovVfs);
    // The rules `apply` wrote bound each VF themselves (vfio-pci was loaded by then); the
    // helper only recorded it.
    for (const entry of result.window.tool) {
      expect(entry.message).toMatch(
        new RegExp(
          `^${(subjectOf(entry) ?? "").replace(/\./g, "\\.")}: bound to vfio-pci by the udev rules \\(module vfio_pci, rank 1 of 1\\); group node /dev/vfio/\\d+.* \\[claim /etc/vfio-autobind/20-vmtest-sriov\\.conf:2\\]$`,
        ),
      );
    }
  });

  it("the PF keeps nvme", () => {
    expect(result.pf).toMatchObject({ driver: "nvme", override: null });
  });
});

describeVm("udev 8: journalctl -t vfio-autobind holds one line per decision", () => {
  const hotplug = scenarioResult<UdevHotplugResult>("udev-hotplug");
  const sriov = scenarioResult<UdevSriovResult>("udev-sriov");
  const trigger = scenarioResult<UdevTriggerResult>("udev-trigger");
  const ownership = scenarioResult<VfioOwnershipResult>("vfio-ownership");
  const ownershipAccounts = scenarioResult<VfioOwnershipAccountsResult>("vfio-ownership-accounts");

  const phases = (): Record<string, { window: JournalWindow; devices: readonly string[] }> => ({
    boot: { window: bootSnapshot().sinceBoot, devices: Object.keys(bootClaimedDevices) },
    hotplug: { window: hotplug.window, devices: [udevHotplugDevices.claimed.address] },
    sriov: { window: sriov.window, devices: udevSriovVfs },
    "first trigger": { window: trigger.first.window, devices: Object.keys(udevClaimedDevices) },
    "second trigger": { window: trigger.second.window, devices: Object.keys(udevClaimedDevices) },
    "unclaim and apply": { window: trigger.applyWindow, devices: [] },
    "vfio-ownership": { window: ownership.window, devices: [bootDevices.nvme.address] },
    "vfio-ownership-accounts": { window: ownershipAccounts.window, devices: [bootDevices.nvme.address] },
  });

  it("each udev-handled event has exactly one line naming its device, from its own helper process", () => {
    for (const [name, phase] of Object.entries(phases())) {
      try {
        expectOneDecisionPerDevice(phase.window, phase.devices);
      } catch (error) {
        throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  });

  it("every line is an info entry of SYSLOG_IDENTIFIER vfio-autobind from the kernel log, with the helper's pid", () => {
    const entries = Object.values(phases()).flatMap((p) => p.window.tool);
    // boot, hotplug, sriov, two triggers, and the ownership scenarios' one add event each.
    expect(entries.length).toBe(2 + 1 + udevSriovVfs.length + 2 * Object.keys(udevClaimedDevices).length + 2);
    for (const entry of entries) {
      // Written to /dev/kmsg (src/journal/kernelLog.ts): journald parsed the identifier and
      // SYSLOG_PID from the record; expectOneDecisionPerDevice matched that pid to the helper
      // process udevd forked for the device (a kernel record has no _CMDLINE to compare).
      expect(entry, entry.message).toMatchObject({
        identifier: "vfio-autobind",
        priority: 6,
        transport: "kernel",
        cmdline: null,
      });
      expect(entry.pid, entry.message).not.toBeNull();
    }
    // One process per line: no helper logged twice, none logged for another's event.
    expect(new Set(entries.map((e) => e.pid)).size).toBe(entries.length);
  });

  it("the whole run's journal holds no other vfio-autobind line but the moves service's (the CLI scenarios log none)", () => {
    const final = vmReport?.snapshots["final"];
    expect(final?.journaldSuppressed).toEqual([]);
    const inPhases = new Set(Object.values(phases()).flatMap((p) => p.window.tool.map((e) => e.cursor)));
    // vfio-autobind-moves.service logs what it moves when driver-moves runs depmod.
    const movesService = (cmdline: string | null): boolean => cmdline?.endsWith(" apply --moves-only") === true;
    expect(
      final?.sinceBoot.tool.filter((e) => !inPhases.has(e.cursor) && !movesService(e.cmdline)).map((e) => e.message),
    ).toEqual([]);
    const runsInPhases = Object.values(phases()).reduce((n, p) => n + helperRuns(p.window).length, 0);
    expect(helperRuns(final?.sinceBoot ?? { tool: [], udevdHelperLines: [], endCursor: null }).length).toBe(
      runsInPhases,
    );
  });
});
