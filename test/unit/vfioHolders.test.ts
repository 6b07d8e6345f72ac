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
import { FakeSysfs } from "../../support/fakeSysfs.js";

const ADDRESS = "0000:3b:00.2";
const GROUP_NODE = "/dev/vfio/42";
const CDEV = "/dev/vfio/devices/vfio0";

let proc: string;

beforeEach(() => {
  proc = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-proc-"));
});
afterEach(() => {
  fs.rmSync(proc, { recursive: true, force: true });
});

/** A fake /proc/<pid>: comm, fd links to `fds`, and a maps file when given. */
function addProcess(pid: number | string, comm: string, fds: readonly string[], maps?: string): string {
  const dir = path.join(proc, String(pid));
  fs.mkdirSync(path.join(dir, "fd"), { recursive: true });
  fs.writeFileSync(path.join(dir, "comm"), `${comm}\n`);
  fds.forEach((target, i) => fs.symlinkSync(target, path.join(dir, "fd", String(i + 3))));
  if (maps !== undefined) fs.writeFileSync(path.join(dir, "maps"), maps);
  return dir;
}

const mapsLine = (file: string): string => `7f0000000000-7f0000001000 rw-s 00000000 00:05 1234    ${file}\n`;

describe("findVfioHolders over a fake /proc", () => {
  it("finds the process that has the group node open, with its command and pid", () => {
    addProcess(4711, "qemu-system-x86", ["/dev/null", GROUP_NODE, "anon_inode:[vfio-device]"]);
    addProcess(1, "systemd", ["/dev/kmsg", "/run/systemd/notify"]);
    expect(findVfioHolders(proc, [GROUP_NODE, CDEV])).toEqual([
      { pid: 4711, command: "qemu-system-x86", node: GROUP_NODE },
    ]);
  });

  it("finds the cdev, and both nodes of one process, sorted by pid then node", () => {
    addProcess(900, "cloud-hypervisor", [CDEV, GROUP_NODE]);
    addProcess(77, "crosvm", [CDEV]);
    expect(findVfioHolders(proc, [GROUP_NODE, CDEV])).toEqual([
      { pid: 77, command: "crosvm", node: CDEV },
      { pid: 900, command: "cloud-hypervisor", node: GROUP_NODE },
      { pid: 900, command: "cloud-hypervisor", node: CDEV },
    ]);
  });

  it("does not take another group's node, the container node, or a longer name for ours", () => {
    addProcess(10, "qemu", ["/dev/vfio/420", "/dev/vfio/4", "/dev/vfio/vfio", "/dev/vfio/devices/vfio00"]);
    addProcess(11, "cat", ["/dev/vfio/42 (deleted)", "/tmp/dev/vfio/42"]);
    expect(findVfioHolders(proc, [GROUP_NODE, CDEV])).toEqual([]);
  });

  it("finds a BAR mapped through the cdev after the fd was closed (maps only)", () => {
    addProcess(500, "vmm", ["/dev/null"], `${mapsLine("/usr/lib/libc.so.6")}${mapsLine(CDEV)}`);
    addProcess(501, "vmm2", [], `${mapsLine("/dev/vfio/devices/vfio01")}${mapsLine(`${CDEV}.bak`)}`);
    // The last line of maps without its newline still counts.
    addProcess(502, "vmm3", [], mapsLine(CDEV).trimEnd());
    expect(findVfioHolders(proc, [CDEV])).toEqual([
      { pid: 500, command: "vmm", node: CDEV },
      { pid: 502, command: "vmm3", node: CDEV },
    ]);
  });

  it("does not take a group node from maps (a BAR mapped through a group's device fd is an anonymous inode)", () => {
    addProcess(510, "odd", [], mapsLine(GROUP_NODE));
    expect(findVfioHolders(proc, [GROUP_NODE, CDEV])).toEqual([]);
  });

  it("finds a maps line that straddles two read chunks of a large maps file", () => {
    for (const shift of [0, 1, 7, 20, 30]) {
      const pad = 64 * 1024 - shift - 10;
      const filler = `${"x".repeat(pad - 1)}\n`;
      const dir = addProcess(600 + shift, "vmm", [], `${filler}${mapsLine(CDEV)}`);
      expect(fs.statSync(path.join(dir, "maps")).size).toBeGreaterThan(64 * 1024);
    }
    expect(findVfioHolders(proc, [CDEV]).map((h) => h.pid)).toEqual([600, 601, 607, 620, 630]);
  });

  it("skips entries that are not pids, and processes that vanished or cannot be read", () => {
    addProcess(20, "qemu", [GROUP_NODE]);
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
    const gone = addProcess(24, "ghost", [GROUP_NODE]);
    fs.rmSync(path.join(gone, "comm"));
    expect(findVfioHolders(proc, [GROUP_NODE])).toEqual([
      { pid: 20, command: "qemu", node: GROUP_NODE },
      { pid: 24, command: "?", node: GROUP_NODE },
    ]);
  });

  it("is empty when /proc cannot be read or there is no node to look for", () => {
    addProcess(20, "qemu", [GROUP_NODE]);
    expect(findVfioHolders(path.join(proc, "missing"), [GROUP_NODE])).toEqual([]);
    expect(findVfioHolders(proc, [])).toEqual([]);
  });

  it("escapes a hostile process name before anyone prints it", () => {
    addProcess(30, "evil\u001b[2J\rname", [GROUP_NODE]);
    const [holder] = findVfioHolders(proc, [GROUP_NODE]);
    expect(holder?.command).toBe("evil\\x1b[2J\\x0dname");
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    expect(describeHolders(findVfioHolders(proc, [GROUP_NODE]))).not.toMatch(/[\u0000-\u001f]/);
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
