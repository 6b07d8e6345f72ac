/**
 * A booted fleet guest that Ansible reaches over SSH: the fleet root as the initramfs, with
 * an overlay that authorizes a key made for this run; QEMU forwards a free port on
 * 127.0.0.1 to the guest's sshd. `ssh()` runs a command there as root, for the test's own
 * look at the guest (never through the role).
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { execa, type ResultPromise } from "execa";
import { run, say } from "../../host/command.js";
import { packCpio } from "../../host/cpioArchive.js";
import { writeFile } from "../../host/rootFiles.js";
import type { KernelTree } from "../../host/kernelPackages.js";
import type { FleetRoot } from "./fleetRoot.js";
import { fleetQemuArgv } from "./fleetMachine.js";

export interface FleetGuest {
  /** An inventory line for this guest, named `name`. */
  inventoryLine(name: string): string;
  ssh(command: string): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
  stop(): Promise<void>;
  readonly consoleLog: string;
}

const SSH_OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export async function bootFleetGuest(options: {
  kernel: KernelTree;
  root: FleetRoot;
  dir: string;
}): Promise<FleetGuest> {
  const { dir } = options;
  const key = path.join(dir, "id_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "vfio-autobind-fleet", "-f", key]);
  const overlay = path.join(dir, "overlay");
  fs.mkdirSync(overlay);
  fs.mkdirSync(path.join(overlay, "root", ".ssh"), { recursive: true, mode: 0o700 });
  writeFile(overlay, "root/.ssh/authorized_keys", fs.readFileSync(`${key}.pub`), 0o600);
  fs.chmodSync(path.join(overlay, "root"), 0o700);
  fs.chmodSync(path.join(overlay, "root", ".ssh"), 0o700);
  const overlayCpio = path.join(dir, "overlay.cpio");
  await packCpio(overlay, overlayCpio);
  // Concatenated archives: the kernel unpacks them in order, the overlay over the root.
  const initrd = path.join(dir, "initrd.cpio");
  fs.copyFileSync(options.root.cpio, initrd);
  fs.appendFileSync(initrd, fs.readFileSync(overlayCpio));

  const port = await freePort();
  const consoleLog = path.join(dir, "console.log");
  const argv = fleetQemuArgv({ kernel: options.kernel.vmlinuz, initrd, consoleLog }, port);
  const qemu: ResultPromise = execa("qemu-system-x86_64", argv, { reject: false, all: true, stdin: "ignore" });
  let exited = false;
  void qemu.then(() => {
    exited = true;
  });

  const ssh = (command: string) =>
    execa("ssh", [...SSH_OPTIONS, "-o", "BatchMode=yes", "-i", key, "-p", String(port), "root@127.0.0.1", command], {
      reject: false,
      timeout: 120_000,
    }).then((r) => ({ exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) }));

  const started = Date.now();
  for (;;) {
    if (exited) throw new Error(`QEMU exited before the guest's sshd answered; see ${consoleLog}`);
    if (Date.now() - started > 10 * 60_000) {
      qemu.kill();
      throw new Error(`the guest's sshd did not answer within 10 minutes; see ${consoleLog}`);
    }
    const probe = await ssh("systemctl is-system-running --wait >/dev/null 2>&1; true");
    if (probe.exitCode === 0) break;
    await new Promise((r) => setTimeout(r, 3000));
  }
  say(`fleet guest up on 127.0.0.1:${port} after ${((Date.now() - started) / 1000).toFixed(0)} s`);

  return {
    consoleLog,
    inventoryLine: (name) =>
      `${name} ansible_host=127.0.0.1 ansible_port=${port} ansible_user=root ansible_ssh_private_key_file=${key} ` +
      `ansible_ssh_common_args='${SSH_OPTIONS.join(" ")}' ansible_python_interpreter=/usr/bin/python3`,
    ssh,
    async stop() {
      if (!exited) {
        await ssh("systemctl poweroff");
        const timer = setTimeout(() => qemu.kill(), 60_000);
        await qemu;
        clearTimeout(timer);
      }
    },
  };
}
