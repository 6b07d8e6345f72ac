import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  describeHolders,
  findVfioHolders,
  vfioCdevOf,
  vfioNodesOf,
  type VfioHolder,
} from "../../src/sysfs/vfioHolders.js";
import { vfioNodeFile } from "../../src/paths.js";
import { holdVfioNode, mapsIdOf } from "../../support/fakeProc.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";

const ADDRESS = "0000:3b:00.2";
const GROUP_NODE = "/dev/vfio/42";
const CDEV = "/dev/vfio/devices/vfio0";

let proc: string;
let dev: string;
let roots: { procRoot: string; devRoot: string };

beforeEach(() => {
  proc = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-proc-"));
  dev = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-dev-"));
  roots = { procRoot: proc, devRoot: dev };
  for (const node of [GROUP_NODE, CDEV]) {
    fs.mkdirSync(path.dirname(vfioNodeFile(dev, node)), { recursive: true });
    fs.writeFileSync(vfioNodeFile(dev, node), "");
  }
});
afterEach(() => {
  fs.rmSync(proc, { recursive: true, force: true });
  fs.rmSync(dev, { recursive: true, force: true });
});

/** A fake /proc/<pid> with a comm and fd links to `fds` (no fdinfo: the link alone), and a maps file when given. */
function addProcess(pid: number | string, comm: string, fds: readonly string[], maps?: string): string {
  const dir = path.join(proc, String(pid));
  fs.mkdirSync(path.join(dir, "fd"), { recursive: true });
  fs.writeFileSync(path.join(dir, "comm"), `${comm}\n`);
  fds.forEach((target, i) => fs.symlinkSync(target, path.join(dir, "fd", String(i + 3))));
  if (maps !== undefined) fs.writeFileSync(path.join(dir, "maps"), maps);
  return dir;
}

/** A maps line for a file whose device and inode are `id` ("fe:00 1234"), whatever its path column says. */
const mapsLine = (id: string, shown: string): string => `7f0000000000-7f0000001000 rw-s 00000000 ${id}    ${shown}\n`;
const at = (node: string): string => vfioNodeFile(dev, node);

describe("findVfioHolders over a fake /proc", () => {
  it("finds the process that has the group node open, with its command and pid", () => {
    holdVfioNode(roots, { pid: 4711, comm: "qemu-system-x86", node: GROUP_NODE });
    addProcess(1, "systemd", ["/dev/kmsg", "/run/systemd/notify", "anon_inode:[vfio-device]"]);
    expect(findVfioHolders(roots, [GROUP_NODE, CDEV])).toEqual([
      { pid: 4711, command: "qemu-system-x86", node: GROUP_NODE },
    ]);
  });

  it("finds the cdev, and both nodes of one process, sorted by pid then node", () => {
    holdVfioNode(roots, { pid: 900, comm: "cloud-hypervisor", node: CDEV });
    holdVfioNode(roots, { pid: 900, comm: "cloud-hypervisor", node: GROUP_NODE });
    holdVfioNode(roots, { pid: 77, comm: "crosvm", node: CDEV });
    expect(findVfioHolders(roots, [GROUP_NODE, CDEV])).toEqual([
      { pid: 77, command: "crosvm", node: CDEV },
      { pid: 900, command: "cloud-hypervisor", node: GROUP_NODE },
      { pid: 900, command: "cloud-hypervisor", node: CDEV },
    ]);
  });

  it("does not take another group's node, the container node, or a longer name for ours", () => {
    for (const other of ["/dev/vfio/420", "/dev/vfio/4", "/dev/vfio/vfio", "/dev/vfio/devices/vfio00"])
      holdVfioNode(roots, { pid: 10, comm: "qemu", node: other });
    addProcess(11, "cat", [`${at(GROUP_NODE)} (deleted)`, `/tmp${at(GROUP_NODE)}`]);
    expect(findVfioHolders(roots, [GROUP_NODE, CDEV])).toEqual([]);
  });

  it("finds a BAR mapped through the cdev after the fd was closed, by its device and inode", () => {
    holdVfioNode(roots, { pid: 500, comm: "vmm", node: CDEV, by: "map" });
    // The last line of maps without its newline still counts.
    addProcess(502, "vmm3", [], mapsLine(mapsIdOf(at(CDEV)), "/dev/vfio/devices/vfio0").trimEnd());
    expect(findVfioHolders(roots, [CDEV])).toEqual([
      { pid: 500, command: "vmm", node: CDEV },
      { pid: 502, command: "vmm3", node: CDEV },
    ]);
  });

  it("takes no mapping whose path merely reads as the cdev: a local user's file of that name holds nothing", () => {
    // Any user can mmap a file of their own named `x /dev/vfio/devices/vfio0`, or one at that
    // path in a mount namespace of their own, and call the process qemu-system-x86.
    const own = path.join(dev, "x /dev/vfio/devices/vfio0");
    fs.mkdirSync(path.dirname(own), { recursive: true });
    fs.writeFileSync(own, "");
    addProcess(4242, "qemu-system-x86", [], mapsLine(mapsIdOf(own), `/home/user/x ${CDEV}`));
    addProcess(4243, "qemu-system-x86", [], mapsLine(mapsIdOf(own), CDEV));
    addProcess(4244, "qemu-system-x86", [], `${mapsLine("00:05 1234", CDEV)}${mapsLine("00:00 0", CDEV)}`);
    expect(findVfioHolders(roots, [GROUP_NODE, CDEV])).toEqual([]);
  });

  it("does not take a group node from maps (a BAR mapped through a group's device fd is an anonymous inode)", () => {
    addProcess(510, "odd", [], mapsLine(mapsIdOf(at(GROUP_NODE)), GROUP_NODE));
    expect(findVfioHolders(roots, [GROUP_NODE, CDEV])).toEqual([]);
  });

  it("finds a maps line that straddles two read chunks of a large maps file", () => {
    for (const shift of [0, 1, 7, 20, 30]) {
      const pad = 64 * 1024 - shift - 10;
      const filler = `${"x".repeat(pad - 1)}\n`;
      const dir = addProcess(600 + shift, "vmm", [], `${filler}${mapsLine(mapsIdOf(at(CDEV)), CDEV)}`);
      expect(fs.statSync(path.join(dir, "maps")).size).toBeGreaterThan(64 * 1024);
    }
    expect(findVfioHolders(roots, [CDEV]).map((h) => h.pid)).toEqual([600, 601, 607, 620, 630]);
  });

  it("takes no O_PATH descriptor of the node: anyone may take one, and it holds nothing open", () => {
    holdVfioNode(roots, { pid: 4242, comm: "qemu-system-x86", node: GROUP_NODE, flags: "012000000" });
    holdVfioNode(roots, { pid: 4711, comm: "qemu-system-x86", node: GROUP_NODE, flags: "02100002" });
    expect(findVfioHolders(roots, [GROUP_NODE])).toEqual([{ pid: 4711, command: "qemu-system-x86", node: GROUP_NODE }]);
  });

  it("takes a descriptor on a tmpfs /dev (a container's), and none on a filesystem that could block a stat", () => {
    holdVfioNode(roots, { pid: 30, comm: "virt-launcher", node: GROUP_NODE, fsType: "tmpfs" });
    // A local user's FUSE or an NFS mount: whatever the link reads, the file is never asked.
    holdVfioNode(roots, { pid: 31, comm: "qemu-system-x86", node: GROUP_NODE, fsType: "fuse.sshfs" });
    holdVfioNode(roots, { pid: 32, comm: "qemu-system-x86", node: GROUP_NODE, fsType: "nfs4" });
    expect(findVfioHolders(roots, [GROUP_NODE]).map((h) => h.pid)).toEqual([30]);
  });

  it("takes no descriptor whose link reads as the node but that opens another file", () => {
    // A file at /dev/vfio/42 in a local user's own mount namespace: /proc shows the link as
    // that path, but the file is another one (here: the node replaced after the fd was opened).
    holdVfioNode(roots, { pid: 40, comm: "qemu-system-x86", node: GROUP_NODE, fsType: "tmpfs" });
    fs.rmSync(at(GROUP_NODE));
    fs.writeFileSync(at(GROUP_NODE), "");
    holdVfioNode(roots, { pid: 41, comm: "qemu-system-x86", node: GROUP_NODE, fsType: "tmpfs" });
    fs.rmSync(path.join(proc, "40", "fd", "3"));
    fs.symlinkSync(path.join(dev, "elsewhere"), path.join(proc, "40", "fd", "3"));
    fs.writeFileSync(path.join(dev, "elsewhere"), "");
    expect(findVfioHolders(roots, [GROUP_NODE]).map((h) => h.pid)).toEqual([41]);
  });

  it("skips entries that are not pids, and processes that vanished or cannot be read", () => {
    holdVfioNode(roots, { pid: 20, comm: "qemu", node: GROUP_NODE });
    fs.mkdirSync(path.join(proc, "self"));
    fs.mkdirSync(path.join(proc, "0123")); // not how the kernel names a pid
    fs.writeFileSync(path.join(proc, "meminfo"), "MemTotal: 1 kB\n");
    // Listed, then gone before its fd directory was read: an empty pid directory.
    fs.mkdirSync(path.join(proc, "21"));
    // fd is not a directory (as for a zombie, or a kernel thread we may not read).
    fs.mkdirSync(path.join(proc, "22"));
    fs.writeFileSync(path.join(proc, "22", "fd"), "");
    // An fd entry that is no longer a link (closed and reused while we looked).
    const dir = addProcess(23, "racer", []);
    fs.writeFileSync(path.join(dir, "fd", "5"), "");
    // The holder exits between the fd scan and the comm read: it is still named, by pid.
    holdVfioNode(roots, { pid: 24, comm: "ghost", node: GROUP_NODE });
    fs.rmSync(path.join(proc, "24", "comm"));
    // Its fdinfo gone too: the link alone then says it holds the node (refusing is the safe side).
    addProcess(25, "qemu", [at(GROUP_NODE)]);
    expect(findVfioHolders(roots, [GROUP_NODE])).toEqual([
      { pid: 20, command: "qemu", node: GROUP_NODE },
      { pid: 24, command: "?", node: GROUP_NODE },
      { pid: 25, command: "qemu", node: GROUP_NODE },
    ]);
  });

  it("is empty when /proc cannot be read or there is no node to look for", () => {
    holdVfioNode(roots, { pid: 20, comm: "qemu", node: GROUP_NODE });
    expect(findVfioHolders({ procRoot: path.join(proc, "missing"), devRoot: dev }, [GROUP_NODE])).toEqual([]);
    expect(findVfioHolders(roots, [])).toEqual([]);
  });

  it("escapes a hostile process name before anyone prints it", () => {
    holdVfioNode(roots, { pid: 30, comm: "evil\u001b[2J\rname", node: GROUP_NODE });
    const [holder] = findVfioHolders(roots, [GROUP_NODE]);
    expect(holder?.command).toBe("evil\\x1b[2J\\x0dname");
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    expect(describeHolders(findVfioHolders(roots, [GROUP_NODE]))).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe("describeHolders", () => {
  it("names each holder the way the refusal shows it", () => {
    const holders: VfioHolder[] = [
      { pid: 4711, command: "qemu-system-x86", node: GROUP_NODE },
      { pid: 4712, command: "qemu-system-x86", node: CDEV },
    ];
    expect(describeHolders(holders)).toBe(
      "/dev/vfio/42 is open by qemu-system-x86 (pid 4711); /dev/vfio/devices/vfio0 is open by qemu-system-x86 (pid 4712)",
    );
  });

  it("property: any process name comes out as one line with no control character", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 4194304 }), (command, pid) => {
        const text = describeHolders([{ pid, command, node: GROUP_NODE }]);
        return !text.includes("\n") && text.endsWith(`(pid ${pid})`);
      }),
      { numRuns: 200 },
    );
  });
});

describe("vfioNodesOf and vfioCdevOf over a fake sysfs", () => {
  let sys: FakeSysfs;
  beforeEach(() => {
    sys = FakeSysfs.create();
    sys.addDevice({ address: ADDRESS, vendor: "15b3", device: "101e", iommuGroup: 42 });
  });
  afterEach(() => sys.remove());

  it("gives the group node alone when the kernel has no cdev for the device", () => {
    expect(vfioCdevOf(sys.root, ADDRESS)).toBeNull();
    expect(vfioNodesOf(sys.root, { address: ADDRESS, iommuGroup: "42" })).toEqual([GROUP_NODE]);
  });

  it("has no cdev for a vfio-dev/vfioN without a dev attribute (6.1 to 6.5: sysfs only, no node)", () => {
    fs.mkdirSync(path.join(sys.deviceDir(ADDRESS), "vfio-dev", "vfio3"), { recursive: true });
    expect(vfioCdevOf(sys.root, ADDRESS)).toBeNull();
  });

  it("adds /dev/vfio/devices/vfioN from <device>/vfio-dev/, ignoring names that are not a cdev", () => {
    fs.mkdirSync(path.join(sys.deviceDir(ADDRESS), "vfio-dev", "vfio3"), { recursive: true });
    fs.writeFileSync(path.join(sys.deviceDir(ADDRESS), "vfio-dev", "vfio3", "dev"), "511:3\n");
    fs.mkdirSync(path.join(sys.deviceDir(ADDRESS), "vfio-dev", "vfio4x"), { recursive: true });
    fs.writeFileSync(path.join(sys.deviceDir(ADDRESS), "vfio-dev", "vfio4x", "dev"), "511:4\n");
    expect(vfioCdevOf(sys.root, ADDRESS)).toBe("vfio3");
    expect(vfioNodesOf(sys.root, { address: ADDRESS, iommuGroup: "42" })).toEqual([
      GROUP_NODE,
      "/dev/vfio/devices/vfio3",
    ]);
    expect(vfioNodesOf(sys.root, { address: ADDRESS, iommuGroup: null })).toEqual(["/dev/vfio/devices/vfio3"]);
  });
});
