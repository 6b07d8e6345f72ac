/**
 * One boot of the guest: starts QEMU, follows the guest's protocol lines as they arrive,
 * answers hotplug requests through QMP, and returns every message once the guest has
 * powered itself off. The handshake is one way: the guest asks for a device and then
 * waits for it to appear in its own /sys, so the host never has to reply.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { parseMessages, type GuestMessage, type HotplugRequest } from "../shared/protocol.js";
import { say } from "./command.js";
import { QmpClient } from "./qmpClient.js";
import { qemuArgv, type QemuMachine } from "./qemuCommand.js";

export interface HotplugOutcome {
  readonly requestId: string;
  readonly device: Readonly<Record<string, string>>;
  /** QEMU's error, or null when device_add succeeded. */
  readonly error: string | null;
}

export interface GuestRun {
  readonly messages: readonly GuestMessage[];
  readonly hotplugs: readonly HotplugOutcome[];
  readonly qemuExitCode: number | undefined;
  readonly timedOut: boolean;
  readonly qemuOutput: string;
  readonly consoleLog: string;
  readonly resultsLog: string;
}

export async function bootGuest(options: {
  kernel: string;
  initrd: string;
  runDir: string;
  timeoutMs: number;
  /** The main layout when absent. */
  machine?: QemuMachine;
}): Promise<GuestRun> {
  const files = {
    kernel: options.kernel,
    initrd: options.initrd,
    consoleLog: path.join(options.runDir, "console.log"),
    resultsLog: path.join(options.runDir, "results.log"),
    qmpSocket: path.join(options.runDir, "qmp.sock"),
  };
  const qemu = execa("qemu-system-x86_64", qemuArgv(files, options.machine), {
    reject: false,
    all: true,
    timeout: options.timeoutMs,
    stdin: "ignore",
  });
  const hotplugger = new Hotplugger(files.qmpSocket);
  const follower = new ResultsFollower(files.resultsLog, hotplugger);

  // Polled rather than watched: the file is written by QEMU, in small pieces, for minutes.
  let pending = Promise.resolve();
  const poller = setInterval(() => {
    pending = pending
      .then(() => follower.poll())
      .catch((error: unknown) => say(`following the guest failed: ${String(error)}`));
  }, 500);
  const result = await qemu;
  clearInterval(poller);
  await pending;
  await follower.poll();
  hotplugger.close();

  return {
    messages: follower.messages,
    hotplugs: hotplugger.outcomes,
    qemuExitCode: result.exitCode,
    timedOut: result.timedOut === true,
    qemuOutput: String(result.all ?? ""),
    consoleLog: files.consoleLog,
    resultsLog: files.resultsLog,
  };
}

/** Reads the protocol lines the guest has written since the last poll. */
class ResultsFollower {
  readonly messages: GuestMessage[] = [];
  private consumed = 0;

  constructor(
    private readonly file: string,
    private readonly hotplugger: Hotplugger,
  ) {}

  async poll(): Promise<void> {
    const text = fs.existsSync(this.file) ? fs.readFileSync(this.file, "utf8") : "";
    const complete = text.lastIndexOf("\n") + 1; // a half-written line waits for the next poll
    if (complete <= this.consumed) return;
    const fresh = parseMessages(text.slice(this.consumed, complete));
    this.consumed = complete;
    for (const message of fresh) {
      this.messages.push(message);
      reportProgress(message);
      if (message.type === "hotplug-request") await this.hotplugger.plug(message);
    }
  }
}

/** Passes the guest's hotplug requests to QMP device_add, connecting on the first one. */
class Hotplugger {
  readonly outcomes: HotplugOutcome[] = [];
  private qmp: QmpClient | null = null;

  constructor(private readonly socket: string) {}

  async plug(request: HotplugRequest): Promise<void> {
    let error: string | null = null;
    try {
      this.qmp ??= await QmpClient.connect(this.socket);
      await this.qmp.execute("device_add", request.device);
      say(`hot-plugged ${JSON.stringify(request.device)}`);
    } catch (caught) {
      error = String(caught);
      say(`hotplug ${request.requestId} failed: ${error}`);
    }
    this.outcomes.push({ requestId: request.requestId, device: request.device, error });
  }

  close(): void {
    this.qmp?.close();
  }
}

function reportProgress(message: GuestMessage): void {
  if (message.type === "hello")
    say(`guest up: ${message.kernel}, node ${message.node}, ${message.uptimeSeconds.toFixed(1)} s after kernel start`);
  if (message.type === "scenario")
    say(`scenario ${message.name}: ${message.completed ? "ran" : "THREW"} in ${message.seconds.toFixed(1)} s`);
  if (message.type === "done") say(`guest finished its scenarios in ${message.seconds.toFixed(1)} s`);
}
