/**
 * One boot of a disk image: the kernel and initramfs read from the image's /boot, the root
 * on the unclaimed virtio-blk, every device of the image's layout (shared/bootMachine.ts),
 * the bind log turned on. Returns once the guest has powered itself off (or the timeout hit).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { say } from "../../host/command.js";
import { machineArgv } from "../../host/qemuCommand.js";
import { GUEST_FLAG } from "../../shared/protocol.js";
import { deviceArgv, type BootLayout } from "../shared/bootMachine.js";
import { parseBootLine, PLAN_PARAMETER, type BootObservation, type BootPlan } from "../shared/bootProtocol.js";
import { BIND_LOG_CMDLINE } from "../shared/kernelLog.js";

export interface BootRequest {
  /** Names the boot in the report and its log files. */
  readonly name: string;
  readonly disk: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The machine's devices. */
  readonly layout: BootLayout;
  readonly plan: BootPlan;
  /** More kernel command line words (the hold switch, fixture parameters). */
  readonly cmdline: readonly string[];
}

export interface BootOutcome {
  readonly name: string;
  readonly plan: BootPlan;
  readonly cmdline: readonly string[];
  readonly seconds: number;
  readonly qemuExitCode: number | undefined;
  readonly timedOut: boolean;
  readonly qemuOutput: string;
  readonly consoleLog: string;
  /** null: the guest sent nothing (see the console log). */
  readonly observation: BootObservation | null;
}

/**
 * TCG can crash a guest kernel early in boot (qemu-notes.md; on 6.12 also "timer doesn't
 * work through Interrupt-remapped IO-APIC", about once in fifteen boots). That is the
 * emulator, not the product: when the kernel panicked before the initramfs printed
 * anything, the disk is untouched, so the boot runs once more, and says so. The panicked
 * console is kept beside the new one.
 */
export async function bootImage(request: BootRequest, runDir: string, timeoutMs: number): Promise<BootOutcome> {
  const first = await bootOnce(request, runDir, timeoutMs);
  if (first.observation !== null || !panickedBeforeInit(fs.readFileSync(first.consoleLog, "utf8"))) return first;
  const kept = first.consoleLog.replace(/\.log$/, "-panicked.log");
  fs.renameSync(first.consoleLog, kept);
  say(`boot ${request.name}: the kernel panicked before its initramfs ran (${kept}): booting once more`);
  return bootOnce(request, runDir, timeoutMs);
}

/** A kernel panic with nothing of initramfs-tools, dracut or systemd before it on the console. */
export function panickedBeforeInit(consoleText: string): boolean {
  const panicAt = consoleText.indexOf("Kernel panic");
  return panicAt >= 0 && !/Loading, please wait|Begin: |dracut|systemd/.test(consoleText.slice(0, panicAt));
}

async function bootOnce(request: BootRequest, runDir: string, timeoutMs: number): Promise<BootOutcome> {
  const consoleLog = path.join(runDir, `${request.name}.console.log`);
  const resultsLog = path.join(runDir, `${request.name}.results.log`);
  const append = [
    "console=ttyS0",
    "root=/dev/vda",
    "rw",
    "intel_iommu=on",
    "panic=-1",
    "loglevel=4",
    ...BIND_LOG_CMDLINE,
    GUEST_FLAG,
    `${PLAN_PARAMETER}=${request.plan}`,
    ...request.cmdline,
  ].join(" ");
  const started = Date.now();
  const result = await execa(
    "qemu-system-x86_64",
    [
      ...machineArgv(2048),
      "-kernel",
      request.kernel,
      "-initrd",
      request.initrd,
      "-append",
      append,
      "-serial",
      `file:${consoleLog}`,
      "-serial",
      `file:${resultsLog}`,
      ...deviceArgv(request.disk, request.layout),
    ],
    { reject: false, all: true, timeout: timeoutMs, stdin: "ignore" },
  );
  const results = fs.existsSync(resultsLog) ? fs.readFileSync(resultsLog, "utf8") : "";
  return {
    name: request.name,
    plan: request.plan,
    cmdline: request.cmdline,
    seconds: (Date.now() - started) / 1000,
    qemuExitCode: result.exitCode,
    timedOut: result.timedOut === true,
    qemuOutput: String(result.all ?? "").slice(-4000),
    consoleLog,
    observation: parseBootLine(results),
  };
}
