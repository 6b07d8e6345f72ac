/**
 * A clean Debian bookworm root made with mmdebstrap, to install the packages into and run
 * the installed command there with chroot. Nothing is mounted into it: the installed program
 * sees an empty /sys, /proc and /dev, so it cannot touch the real devices.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { filesUnder, tempDir } from "./builtPackages.js";

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * mmdebstrap's "apt" variant (Essential packages and apt) plus what the .deb depends on, so
 * installing it needs no network. Made once per test file, in a directory removed afterwards.
 */
export async function makeDebianRoot(): Promise<string> {
  const parent = tempDir("debian-root");
  const root = path.join(parent, "root");
  const result = await execa(
    "mmdebstrap",
    [
      "--mode=root",
      "--variant=apt",
      "--include=nodejs,udev,kmod,util-linux",
      // mmdebstrap would mount sysfs (or, failing that, bind the real /sys read-write) while
      // it installs; nothing in this root needs /sys, so it gets none.
      "--skip=chroot/mount/sys",
      "bookworm",
      root,
    ],
    // Without a tty mmdebstrap may read sources from stdin: give it none.
    { stdin: "ignore", reject: false, all: true },
  );
  if (result.exitCode !== 0) {
    fs.rmSync(parent, { recursive: true, force: true });
    throw new Error(
      `mmdebstrap failed (exit ${result.exitCode}); is the Debian archive reachable?\n${tail(result.all ?? "")}`,
    );
  }
  return root;
}

/** Runs a command inside the root with a clean environment, as an admin's root shell would. */
export async function runInRoot(root: string, command: readonly string[]): Promise<RunResult> {
  const result = await execa(
    "env",
    [
      "-i",
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=/root",
      "LC_ALL=C.UTF-8",
      "DEBIAN_FRONTEND=noninteractive",
      "chroot",
      root,
      ...command,
    ],
    { reject: false, stdin: "ignore" },
  );
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Fails with the command's output unless it exited 0. */
export async function mustRunInRoot(root: string, command: readonly string[]): Promise<RunResult> {
  const result = await runInRoot(root, command);
  if (result.exitCode !== 0) {
    throw new Error(
      `${command.join(" ")} failed in the Debian root (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * The root's files, leaving out what package managers write as a matter of course (their
 * databases, caches and logs) and the scratch space the tests copy packages into.
 */
export function rootFiles(root: string): string[] {
  const noise = ["/var/lib/dpkg/", "/var/lib/apt/", "/var/cache/", "/var/log/", "/var/lib/rpm/", "/tmp/"];
  return filesUnder(root).filter((file) => !noise.some((prefix) => file.startsWith(prefix)));
}

/** Removes the root, after making sure nothing is mounted inside it (rm -rf would follow). */
export function removeDebianRoot(root: string): void {
  const mounts = fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((point) => point === root || point.startsWith(`${root}/`));
  if (mounts.length > 0) throw new Error(`not removing ${root}: still mounted there: ${mounts.join(", ")}`);
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
}

function tail(text: string): string {
  return text.split("\n").slice(-30).join("\n");
}
