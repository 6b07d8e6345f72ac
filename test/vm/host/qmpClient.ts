/** Just enough QMP for hotplug: connect, leave capabilities negotiation, run commands. */
import * as net from "node:net";

export class QmpClient {
  private buffered = "";
  private readonly waiting: Array<(reply: Record<string, unknown>) => void> = [];

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf("\n")) >= 0) {
        const line = this.buffered.slice(0, newline).trim();
        this.buffered = this.buffered.slice(newline + 1);
        if (line === "") continue;
        const message = JSON.parse(line) as Record<string, unknown>;
        // Events (DEVICE_DELETED, ...) arrive between replies; only replies answer commands.
        if ("event" in message) continue;
        this.waiting.shift()?.(message);
      }
    });
  }

  static async connect(socketPath: string): Promise<QmpClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(socketPath, () => resolve(s));
      s.once("error", reject);
    });
    const client = new QmpClient(socket);
    await client.reply(); // the greeting
    await client.execute("qmp_capabilities");
    return client;
  }

  private reply(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Runs a command; rejects with QEMU's own error description. */
  async execute(command: string, args?: Readonly<Record<string, unknown>>): Promise<unknown> {
    const reply = this.reply();
    this.socket.write(
      `${JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args })}\n`,
    );
    const message = await reply;
    if ("error" in message) throw new Error(`QMP ${command}: ${JSON.stringify(message.error)}`);
    return message.return;
  }

  close(): void {
    this.socket.destroy();
  }
}
