/**
 * A /proc for tests: the files the tool reads to see what the host itself uses, saying
 * "nothing", and processes holding VFIO nodes the way the kernel shows them.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { vfioNodeFile } from "../src/paths.js";

export function writeFakeProc(procRoot: string): void {
  fs.mkdirSync(path.join(procRoot, "self"), { recursive: true });
  fs.writeFileSync(path.join(procRoot, "self", "mountinfo"), "");
  fs.writeFileSync(path.join(procRoot, "swaps"), "Filename\tType\tSize\tUsed\tPriority\n");
}

export interface FakeHolder {
  readonly pid: number;
  readonly comm: string;
  /** The node as the tool names it: `/dev/vfio/42`, `/dev/vfio/devices/vfio0`. */
  readonly node: string;
  /** An open descriptor (the default), or a mapping left after the descriptor was closed. */
  readonly by?: "fd" | "map";
  /** The descriptor's open flags as fdinfo shows them (octal); O_RDWR by default. */
  readonly flags?: string;
  /** The filesystem the descriptor's file is on, by mountinfo; devtmpfs by default. */
  readonly fsType?: string;
}

/**
 * Makes `holder.pid` hold `holder.node`: the node is a plain file standing in for it under
 * `devRoot` (made if missing), and the process gets a comm, and an fd whose link, fdinfo and
 * mount lead to the node, or a maps line with the node's device and inode.
 */
export function holdVfioNode(roots: { procRoot: string; devRoot: string }, holder: FakeHolder): void {
  const node = vfioNodeFile(roots.devRoot, holder.node);
  if (!fs.existsSync(node)) {
    fs.mkdirSync(path.dirname(node), { recursive: true });
    fs.writeFileSync(node, "");
  }
  const dir = path.join(roots.procRoot, String(holder.pid));
  for (const sub of ["fd", "fdinfo"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.writeFileSync(path.join(dir, "comm"), `${holder.comm}\n`);
  if (holder.by === "map") {
    fs.appendFileSync(
      path.join(dir, "maps"),
      `7f0000000000-7f0000001000 rw-s 00000000 ${mapsIdOf(node)}    ${holder.node}\n`,
    );
    return;
  }
  const fsType = holder.fsType ?? "devtmpfs";
  const mountinfo = path.join(dir, "mountinfo");
  // A mount of its own per descriptor, numbered as they come.
  const mountId = 30 + (fs.existsSync(mountinfo) ? fs.readFileSync(mountinfo, "utf8").split("\n").length - 1 : 0);
  const fd = String(fs.readdirSync(path.join(dir, "fd")).length + 3);
  fs.symlinkSync(node, path.join(dir, "fd", fd));
  fs.writeFileSync(
    path.join(dir, "fdinfo", fd),
    `pos:\t0\nflags:\t${holder.flags ?? "0100002"}\nmnt_id:\t${mountId}\nino:\t${fs.statSync(node).ino}\n`,
  );
  fs.appendFileSync(mountinfo, `${mountId} 1 0:5 / /dev rw,nosuid shared:2 - ${fsType} udev rw\n`);
}

/** "fe:00 260072": a file's device (major:minor, hex, as maps prints them) and inode, by stat(1). */
export function mapsIdOf(file: string): string {
  const [major, minor, ino] = execFileSync("stat", ["-c", "%Hd %Ld %i", file], { encoding: "utf8" }).trim().split(" ");
  const hex = (n: string | undefined): string => Number(n).toString(16).padStart(2, "0");
  return `${hex(major)}:${hex(minor)} ${ino}`;
}

/** Adds a mount of the block device `majorMinor` (`259:1`) from `source` on `mountPoint` to the fake mountinfo. */
export function addFakeMount(
  procRoot: string,
  mount: { majorMinor: string; source: string; mountPoint: string },
): void {
  const id = fs.readFileSync(path.join(procRoot, "self", "mountinfo"), "utf8").split("\n").length + 20;
  fs.appendFileSync(
    path.join(procRoot, "self", "mountinfo"),
    `${id} 1 ${mount.majorMinor} / ${mount.mountPoint} rw,relatime shared:1 - ext4 ${mount.source} rw\n`,
  );
}
