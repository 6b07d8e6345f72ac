/**
 * The QEMU command line (qemu-notes.md): TCG, because nested KVM stops early here; an
 * emulated Intel IOMMU with interrupt remapping, so devices get real IOMMU groups and VFIO
 * works; the whole root as the initramfs; the devices of shared/machineLayout.ts.
 */
import { deviceQemuArgs } from "../shared/machineLayout.js";
import { GUEST_FLAG } from "../shared/protocol.js";

export interface QemuFiles {
  readonly kernel: string;
  readonly initrd: string;
  /** ttyS0: kernel and systemd messages, for people. */
  readonly consoleLog: string;
  /** ttyS1: protocol lines, for the host (shared/protocol.ts). */
  readonly resultsLog: string;
  readonly qmpSocket: string;
}

/** What differs between boots: the devices (the main layout by default) and kernel parameters added to the suite's own. */
export interface QemuMachine {
  readonly devices: readonly string[];
  readonly extraAppend: readonly string[];
}

export function qemuArgv(
  files: QemuFiles,
  machine: QemuMachine = { devices: deviceQemuArgs(), extraAppend: [] },
): string[] {
  return [
    ...rootInInitramfsArgv(files, [GUEST_FLAG, ...machine.extraAppend]),
    "-serial",
    `file:${files.resultsLog}`,
    "-qmp",
    `unix:${files.qmpSocket},server=on,wait=off`,
    ...machine.devices,
  ];
}

/**
 * The machine booted from a kernel and a whole root as its initramfs, with its console to a
 * file; `extraAppend` follows the kernel parameters every such boot needs.
 */
export function rootInInitramfsArgv(
  files: { readonly kernel: string; readonly initrd: string; readonly consoleLog: string },
  extraAppend: readonly string[],
): string[] {
  const append = [
    "console=ttyS0",
    // The root is the initramfs itself: start systemd straight from it.
    "rdinit=/lib/systemd/systemd",
    "intel_iommu=on",
    // Stop instead of hanging on a panic; -no-reboot turns the reboot into QEMU's exit.
    "panic=-1",
    "loglevel=4",
    ...extraAppend,
  ];
  return [
    ...machineArgv(3072),
    "-kernel",
    files.kernel,
    "-initrd",
    files.initrd,
    "-append",
    append.join(" "),
    "-serial",
    `file:${files.consoleLog}`,
  ];
}

/**
 * The machine every suite's guest runs on, without kernel, disks or devices: TCG, q35 with
 * the emulated Intel IOMMU, no display, no default NIC, and an exit instead of a reboot.
 */
export function machineArgv(memoryMb: number): string[] {
  return [
    "-accel",
    "tcg,thread=multi",
    "-smp",
    "2",
    "-cpu",
    "max",
    "-M",
    "q35,kernel-irqchip=split",
    "-device",
    "intel-iommu,intremap=on",
    "-m",
    String(memoryMb),
    "-nographic",
    "-vga",
    "none",
    "-nic",
    "none",
    "-monitor",
    "none",
    "-no-reboot",
  ];
}
