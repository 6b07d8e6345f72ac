/**
 * The release's own libvirt works on a claimed device, as virt-manager would use it: a
 * `<hostdev managed='yes'>` domain whose QEMU (TCG, no disk) only has to open the device.
 * nodedev-detach, start --paused, `release` while QEMU holds it, destroy, nodedev-reattach,
 * then status, check and apply. Uses its own virtio-net (00:0b.0), claimed here and
 * unclaimed at the end. Runs only where the guest root has libvirt (shared/releases.ts).
 */
import * as fs from "node:fs";
import type { DeviceState } from "../../shared/protocol.js";
import { bootDevices } from "../../shared/machineLayout.js";
import * as guest from "../guestSystem.js";
import type { CommandRun, GuestLog } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { holds } from "./groupHolder.js";
import { releaseStep, type ToolStep } from "./bindSteps.js";

export const LIBVIRT_DOMAIN = "vfio-autobind-vmtest";

export interface BesideLibvirtResult {
  /** Whether the guest has virsh at all; the rest is null without it. */
  readonly libvirt: boolean;
  readonly steps: {
    readonly claim: CommandRun;
    readonly claimed: DeviceState;
    readonly detach: CommandRun;
    readonly detached: DeviceState;
    readonly define: CommandRun;
    readonly start: CommandRun;
    /** QEMU's pid from libvirt's pid file, and whether it has the group node open. */
    readonly qemuPid: number | null;
    readonly qemuHoldsGroup: boolean;
    readonly releaseWhileRunning: ToolStep;
    readonly destroy: CommandRun;
    readonly destroyed: DeviceState;
    readonly reattach: CommandRun;
    readonly reattached: DeviceState;
    /** The device 10 s after the reattach, and the tool's journal lines about it in that time. */
    readonly settledAfterReattach: DeviceState;
    readonly toolLinesAfterReattach: readonly string[];
    readonly status: CommandRun;
    readonly check: CommandRun;
    readonly apply: CommandRun;
    readonly applied: DeviceState;
    readonly unclaim: CommandRun;
    readonly unclaimed: DeviceState;
  } | null;
}

/** libvirt's node device name for a PCI address: pci_0000_00_0b_0. */
const nodedevName = (address: string): string => `pci_${address.replace(/[:.]/g, "_")}`;

function domainXml(address: string): string {
  const [domain, bus, slotFunction] = address.split(":") as [string, string, string];
  const [slot, fn] = slotFunction.split(".") as [string, string];
  // No disk, no NIC, no display: the inner QEMU only opens the device and stays paused.
  return `<domain type='qemu'>
  <name>${LIBVIRT_DOMAIN}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x${domain}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/></source>
    </hostdev>
  </devices>
</domain>
`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function qemuPid(): number | null {
  try {
    const pid = Number(fs.readFileSync(`/run/libvirt/qemu/${LIBVIRT_DOMAIN}.pid`, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const virsh = (log: GuestLog, ...args: string[]): CommandRun =>
  guest.runCommand(log, ["virsh", "-c", "qemu:///system", ...args], 300_000);

export const besideLibvirt = defineScenario<BesideLibvirtResult>({
  name: "beside-libvirt",
  async run({ log }) {
    if (!fs.existsSync("/usr/bin/virsh")) {
      log.note("no virsh in this guest: the libvirt scenario does not run here");
      return { libvirt: false, steps: null };
    }
    const address = bootDevices.netLibvirt.address;
    const claim = guest.runTool(log, ["claim", address, "--now"]);
    const claimed = guest.readDevice(address);
    const detach = virsh(log, "nodedev-detach", nodedevName(address));
    const detached = guest.readDevice(address);
    const xml = "/run/vfio-autobind-vmtest-domain.xml";
    fs.writeFileSync(xml, domainXml(address));
    const define = virsh(log, "define", xml);
    const start = virsh(log, "start", "--paused", LIBVIRT_DOMAIN);
    const pid = qemuPid();
    const group = guest.readDevice(address).iommuGroup;
    const qemuHoldsGroup = pid !== null && group !== null && holds(pid, `/dev/vfio/${group}`);
    const releaseWhileRunning = releaseStep(log, address);
    const destroy = virsh(log, "destroy", LIBVIRT_DOMAIN);
    const destroyed = guest.readDevice(address);
    const mark = guest.journalMark();
    const reattach = virsh(log, "nodedev-reattach", nodedevName(address));
    const reattached = guest.readDevice(address);
    // Time for anything that would fight libvirt to show: the uevents of the reattach
    // have run their rules, and nothing binds the device back.
    guest.udevSettle(log);
    await sleep(10_000);
    const settledAfterReattach = guest.readDevice(address);
    const toolLinesAfterReattach = guest
      .journalWindow(mark)
      .tool.map((entry) => entry.message)
      .filter((line) => line.startsWith(`${address}: `));
    const status = guest.runTool(log, ["status"]);
    const check = guest.runTool(log, ["check"]);
    const apply = guest.runTool(log, ["apply"]);
    const applied = guest.readDevice(address);
    virsh(log, "undefine", LIBVIRT_DOMAIN);
    const unclaim = guest.runTool(log, ["unclaim", address, "--now"]);
    const unclaimed = guest.readDevice(address);
    return {
      libvirt: true,
      steps: {
        claim,
        claimed,
        detach,
        detached,
        define,
        start,
        qemuPid: pid,
        qemuHoldsGroup,
        releaseWhileRunning,
        destroy,
        destroyed,
        reattach,
        reattached,
        settledAfterReattach,
        toolLinesAfterReattach,
        status,
        check,
        apply,
        applied,
        unclaim,
        unclaimed,
      },
    };
  },
});
