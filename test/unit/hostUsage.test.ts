import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  decodeOctalEscapes,
  findClassDevices,
  findHostUses,
  hostUsesOf,
  isInterfaceUp,
  parseInterfaceFlags,
  parseMountinfo,
  parseSwaps,
} from "../../src/sysfs/hostUsage.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";

const NVME = "0000:01:00.0";
const VIRTIO_BLK = "0000:00:02.0";
const VIRTIO_NET = "0000:00:03.0";
const NIC = "0000:3b:00.0";

const SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";

let sys: FakeSysfs;
let proc: string;

beforeEach(() => {
  sys = FakeSysfs.create();
  sys.addDevice({ address: NVME, vendor: "144d", device: "a808", classCode: "010802" });
  sys.addDevice({ address: VIRTIO_BLK, vendor: "1af4", device: "1001", classCode: "010000" });
  sys.addDevice({ address: VIRTIO_NET, vendor: "1af4", device: "1000" });
  sys.addDevice({ address: NIC, vendor: "8086", device: "1572" });
  fs.mkdirSync(sys.at("class/block"), { recursive: true });
  fs.mkdirSync(sys.at("class/net"), { recursive: true });
  fs.mkdirSync(sys.at("class/nvme"), { recursive: true });
  proc = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-proc-"));
});

afterEach(() => {
  sys.remove();
  fs.rmSync(proc, { recursive: true, force: true });
});

/** A directory under the device with a `subsystem` link to `<root>/class/<subsystem>`. */
function addClassDir(address: string, relative: string, subsystem: string): string {
  const dir = path.join(sys.deviceDir(address), relative);
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(sys.at(`class/${subsystem}`), path.join(dir, "subsystem"));
  return dir;
}

function addBlock(address: string, relative: string, majorMinor: string, holders: readonly string[] = []): string {
  const dir = addClassDir(address, relative, "block");
  fs.writeFileSync(path.join(dir, "dev"), `${majorMinor}\n`);
  fs.mkdirSync(path.join(dir, "holders"));
  for (const holder of holders) {
    const target = sys.at(`devices/virtual/block/${holder}`);
    fs.mkdirSync(target, { recursive: true });
    fs.symlinkSync(target, path.join(dir, "holders", holder));
  }
  return dir;
}

function addNet(address: string, relative: string, flags: string): string {
  const dir = addClassDir(address, relative, "net");
  fs.writeFileSync(path.join(dir, "flags"), `${flags}\n`);
  return dir;
}

/** NVMe disk with partitions straight inside the namespace dir: no `block` glue dir. */
function addNvmeDisk(): void {
  addClassDir(NVME, "nvme/nvme0", "nvme");
  addBlock(NVME, "nvme/nvme0/nvme0n1", "259:0");
  addBlock(NVME, "nvme/nvme0/nvme0n1/nvme0n1p1", "259:1");
  addBlock(NVME, "nvme/nvme0/nvme0n1/nvme0n1p2", "259:2");
  addBlock(NVME, "nvme/nvme0/nvme0n1/nvme0n1p3", "259:3");
}

function writeProc(mountinfo: string, swaps: string): void {
  fs.mkdirSync(path.join(proc, "self"), { recursive: true });
  fs.writeFileSync(path.join(proc, "self", "mountinfo"), mountinfo);
  fs.writeFileSync(path.join(proc, "swaps"), swaps);
}

const mountLine = (id: number, majorMinor: string, mountPoint: string, source: string, fsType = "ext4"): string =>
  `${id} 1 ${majorMinor} / ${mountPoint} rw,relatime shared:${id} - ${fsType} ${source} rw\n`;

describe("findHostUses on NVMe (no block glue dir)", () => {
  it("reports a mounted partition, decoding \\040 in the mount point", () => {
    addNvmeDisk();
    writeProc(
      mountLine(22, "259:1", "/boot", "/dev/nvme0n1p1", "vfat") +
        mountLine(23, "259:1", "/mnt/old\\040boot", "/dev/nvme0n1p1", "vfat") +
        mountLine(24, "0:22", "/run", "tmpfs", "tmpfs"),
      SWAPS_HEADER,
    );
    expect(findHostUses(sys.deviceDir(NVME), proc)).toEqual([
      { kind: "mounted", name: "nvme0n1p1", reason: "nvme0n1p1 is mounted on /boot, /mnt/old boot" },
    ]);
  });

  it("reports a swap partition named /dev/<name> in /proc/swaps", () => {
    addNvmeDisk();
    writeProc("", `${SWAPS_HEADER}/dev/nvme0n1p2                          partition\t8388604\t\t0\t\t-2\n`);
    expect(findHostUses(sys.deviceDir(NVME), proc)).toEqual([
      { kind: "swap", name: "nvme0n1p2", reason: "nvme0n1p2 is in use as swap" },
    ]);
  });

  it("reports an LVM/md partition by its holders, named in order", () => {
    addNvmeDisk();
    addBlock(NVME, "nvme/nvme0/nvme0n1/nvme0n1p4", "259:4", ["md127", "dm-0"]);
    writeProc("", SWAPS_HEADER);
    expect(findHostUses(sys.deviceDir(NVME), proc)).toEqual([
      { kind: "holder", name: "nvme0n1p4", reason: "nvme0n1p4 is held by dm-0, md127" },
    ]);
  });

  it("lists every use, sorted by name and then kind", () => {
    addNvmeDisk();
    addBlock(NVME, "nvme/nvme0/nvme0n1/nvme0n1p4", "259:4", ["dm-0"]);
    writeProc(
      mountLine(30, "259:3", "/", "/dev/nvme0n1p3") + mountLine(31, "259:1", "/boot", "/dev/nvme0n1p1"),
      `${SWAPS_HEADER}/dev/nvme0n1p3 partition 100 0 -2\n/dev/nvme0n1p2 partition 100 0 -3\n`,
    );
    expect(findHostUses(sys.deviceDir(NVME), proc).map((use) => `${use.name} ${use.kind}`)).toEqual([
      "nvme0n1p1 mounted",
      "nvme0n1p2 swap",
      "nvme0n1p3 mounted",
      "nvme0n1p3 swap",
      "nvme0n1p4 holder",
    ]);
  });

  it("matches a btrfs mount, whose mountinfo device is anonymous, by its source", () => {
    addNvmeDisk();
    writeProc(mountLine(40, "0:31", "/home", "/dev/nvme0n1p3", "btrfs"), "");
    expect(findHostUses(sys.deviceDir(NVME), proc)).toEqual([
      { kind: "mounted", name: "nvme0n1p3", reason: "nvme0n1p3 is mounted on /home" },
    ]);
  });

  it("returns nothing when nothing on the disk is in use", () => {
    addNvmeDisk();
    writeProc(
      mountLine(50, "8:1", "/", "/dev/sda1"),
      `${SWAPS_HEADER}/dev/sda2 partition 100 0 -2\n/swapfile file 100 0 -3\n`,
    );
    expect(findHostUses(sys.deviceDir(NVME), proc)).toEqual([]);
  });
});

describe("findHostUses on virtio-blk (block glue dir)", () => {
  it("finds the disk and its partitions under virtioN/block/", () => {
    addBlock(VIRTIO_BLK, "virtio1/block/vda", "253:0");
    addBlock(VIRTIO_BLK, "virtio1/block/vda/vda1", "253:1");
    addBlock(VIRTIO_BLK, "virtio1/block/vda/vda2", "253:2", ["dm-1"]);
    expect(findClassDevices(sys.deviceDir(VIRTIO_BLK))).toEqual([
      { kind: "block", name: "vda", majorMinor: "253:0", holders: [] },
      { kind: "block", name: "vda1", majorMinor: "253:1", holders: [] },
      { kind: "block", name: "vda2", majorMinor: "253:2", holders: ["dm-1"] },
    ]);
    writeProc(mountLine(20, "253:1", "/", "/dev/root"), SWAPS_HEADER);
    expect(findHostUses(sys.deviceDir(VIRTIO_BLK), proc)).toEqual([
      { kind: "mounted", name: "vda1", reason: "vda1 is mounted on /" },
      { kind: "holder", name: "vda2", reason: "vda2 is held by dm-1" },
    ]);
  });

  it("reports a whole disk used without partitions", () => {
    addBlock(VIRTIO_BLK, "virtio1/block/vdb", "253:16");
    writeProc(mountLine(20, "253:16", "/data", "/dev/vdb", "xfs"), SWAPS_HEADER);
    expect(findHostUses(sys.deviceDir(VIRTIO_BLK), proc)).toEqual([
      { kind: "mounted", name: "vdb", reason: "vdb is mounted on /data" },
    ]);
  });
});

describe("findHostUses on network interfaces", () => {
  it("reports an interface whose flags have IFF_UP set, and not one that is down", () => {
    addNet(NIC, "net/eth2", "0x1003");
    addNet(NIC, "net/eth3", "0x1002");
    writeProc("", SWAPS_HEADER);
    expect(findHostUses(sys.deviceDir(NIC), proc)).toEqual([{ kind: "net-up", name: "eth2", reason: "eth2 is up" }]);
  });

  it("finds a virtio-net interface under virtioN/net/", () => {
    addClassDir(VIRTIO_NET, "virtio0", "virtio");
    addNet(VIRTIO_NET, "virtio0/net/eth0", "0x1003");
    expect(findHostUses(sys.deviceDir(VIRTIO_NET), proc)).toEqual([
      { kind: "net-up", name: "eth0", reason: "eth0 is up" },
    ]);
  });

  it("returns nothing for a device whose interfaces are all down", () => {
    addNet(NIC, "net/eth2", "0x1002");
    expect(findHostUses(sys.deviceDir(NIC), proc)).toEqual([]);
  });
});

describe("findHostUses without /proc information", () => {
  it("still reports holders and interfaces when mountinfo and swaps are missing", () => {
    addNvmeDisk();
    addBlock(NVME, "nvme/nvme0/nvme0n1/nvme0n1p4", "259:4", ["dm-0"]);
    addNet(NIC, "net/eth2", "0x1003");
    // proc is an empty directory: neither self/mountinfo nor swaps exists.
    expect(findHostUses(sys.deviceDir(NVME), proc)).toEqual([
      { kind: "holder", name: "nvme0n1p4", reason: "nvme0n1p4 is held by dm-0" },
    ]);
    expect(findHostUses(sys.deviceDir(NIC), path.join(proc, "does-not-exist"))).toEqual([
      { kind: "net-up", name: "eth2", reason: "eth2 is up" },
    ]);
  });

  it("treats an unreadable /proc file as no information", () => {
    addNvmeDisk();
    // A directory where the file should be makes the read fail (EISDIR), even as root.
    fs.mkdirSync(path.join(proc, "self", "mountinfo"), { recursive: true });
    fs.mkdirSync(path.join(proc, "swaps"));
    expect(findHostUses(sys.deviceDir(NVME), proc)).toEqual([]);
  });
});

describe("findClassDevices", () => {
  it("does not descend into a nested PCI device", () => {
    // A function behind a bridge lives inside the bridge's directory.
    sys.addDevice({ address: "0000:3c:00.0", vendor: "8086", device: "1572", parent: NIC });
    addNet("0000:3c:00.0", "net/eth9", "0x1003");
    addNet(NIC, "net/eth2", "0x1003");
    expect(fs.existsSync(path.join(sys.deviceDir(NIC), "0000:3c:00.0", "net", "eth9"))).toBe(true);
    expect(findHostUses(sys.deviceDir(NIC), proc)).toEqual([{ kind: "net-up", name: "eth2", reason: "eth2 is up" }]);
    expect(findHostUses(sys.deviceDir("0000:3c:00.0"), proc)).toEqual([
      { kind: "net-up", name: "eth9", reason: "eth9 is up" },
    ]);
  });

  it("does not follow symlinks, even ones leading to an interface that is up", () => {
    const elsewhere = addNet(VIRTIO_NET, "virtio0/net/eth0", "0x1003");
    fs.symlinkSync(elsewhere, path.join(sys.deviceDir(NIC), "lower_eth0"));
    expect(findClassDevices(sys.deviceDir(NIC))).toEqual([]);
  });

  it("skips sysfs files it cannot read or make sense of", () => {
    const eth2 = addClassDir(NIC, "net/eth2", "net");
    fs.mkdirSync(path.join(eth2, "flags")); // reading it fails with EISDIR
    addNet(NIC, "net/eth3", "up\n");
    const vda = addClassDir(VIRTIO_BLK, "virtio1/block/vda", "block");
    fs.writeFileSync(path.join(vda, "dev"), "garbage\n");
    expect(findClassDevices(sys.deviceDir(NIC))).toEqual([
      { kind: "net", name: "eth2", flags: null },
      { kind: "net", name: "eth3", flags: null },
    ]);
    expect(findClassDevices(sys.deviceDir(VIRTIO_BLK))).toEqual([
      { kind: "block", name: "vda", majorMinor: null, holders: [] },
    ]);
    writeProc(mountLine(20, "253:0", "/", "/dev/root"), SWAPS_HEADER);
    expect(findHostUses(sys.deviceDir(NIC), proc)).toEqual([]);
    expect(findHostUses(sys.deviceDir(VIRTIO_BLK), proc)).toEqual([]);
  });

  it("finds USB mass storage partitions behind a hub, ten levels down", () => {
    const usb = "usb1/1-1/1-1.2/1-1.2:1.0/host6/target6:0:0/6:0:0:0/block/sdb";
    addBlock(NIC, usb, "8:16");
    addBlock(NIC, `${usb}/sdb1`, "8:17");
    expect(findClassDevices(sys.deviceDir(NIC)).map((device) => device.name)).toEqual(["sdb", "sdb1"]);
  });

  it("stops at the depth bound", () => {
    addBlock(NIC, `${"a/".repeat(12)}sdz`, "8:240");
    addBlock(NIC, `${"a/".repeat(11)}sdy`, "8:224");
    expect(findClassDevices(sys.deviceDir(NIC)).map((device) => device.name)).toEqual(["sdy"]);
  });

  it("finds nothing under a device with no block or net children", () => {
    expect(findClassDevices(sys.deviceDir(NIC))).toEqual([]);
    expect(findHostUses(sys.deviceDir(NIC), proc)).toEqual([]);
  });
});

describe("parseMountinfo", () => {
  it("reads device, decoded mount point and source, with or without optional fields", () => {
    const text =
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
      "37 35 259:1 / /media/my\\040disk rw shared:2 master:3 - vfat /dev/nvme0n1p1 rw\n" +
      "38 35 0:5 / /dev rw - devtmpfs udev rw\n" +
      "39 35 259:9 / /odd\\134name\\011tab rw - ext4 /dev/with\\040space rw\n";
    expect(parseMountinfo(text)).toEqual([
      { majorMinor: "98:0", mountPoint: "/mnt2", source: "/dev/root" },
      { majorMinor: "259:1", mountPoint: "/media/my disk", source: "/dev/nvme0n1p1" },
      { majorMinor: "0:5", mountPoint: "/dev", source: "udev" },
      { majorMinor: "259:9", mountPoint: "/odd\\name\ttab", source: "/dev/with space" },
    ]);
  });

  it("skips blank and malformed lines", () => {
    expect(parseMountinfo("\n\ngarbage\n1 2 x:y / /a rw - ext4 /dev/a rw\n1 2 8:1 / /b rw ext4 /dev/b rw\n")).toEqual(
      [],
    );
  });
});

describe("parseSwaps", () => {
  it("reads the Filename column after the header, decoding escapes", () => {
    const text =
      SWAPS_HEADER +
      "/dev/nvme0n1p2                          partition\t8388604\t\t0\t\t-2\n" +
      "/swap\\040file                          file\t\t1048572\t\t0\t\t-3\n";
    expect(parseSwaps(text)).toEqual(["/dev/nvme0n1p2", "/swap file"]);
  });

  it("returns nothing for a header alone or empty text", () => {
    expect(parseSwaps(SWAPS_HEADER)).toEqual([]);
    expect(parseSwaps("")).toEqual([]);
  });
});

describe("interface flags", () => {
  it("parses the hex flags file and tests IFF_UP", () => {
    expect(parseInterfaceFlags("0x1003\n")).toBe(0x1003);
    expect(parseInterfaceFlags("0x1002")).toBe(0x1002);
    expect(isInterfaceUp(0x1003)).toBe(true);
    expect(isInterfaceUp(0x1002)).toBe(false);
    expect(isInterfaceUp(0x1)).toBe(true);
  });

  it("rejects anything that is not 0x followed by hex digits", () => {
    expect(parseInterfaceFlags("")).toBeNull();
    expect(parseInterfaceFlags("4099")).toBeNull();
    expect(parseInterfaceFlags("0xZZ")).toBeNull();
  });
});

describe("decodeOctalEscapes", () => {
  it("decodes the escapes the kernel writes and leaves other text alone", () => {
    expect(decodeOctalEscapes("a\\040b\\011c\\012d\\134e")).toBe("a b\tc\nd\\e");
    expect(decodeOctalEscapes("plain\\9")).toBe("plain\\9");
  });
});

describe("hostUsesOf", () => {
  it("names each mount point once and ignores a block device with no dev number", () => {
    expect(
      hostUsesOf(
        [
          { kind: "block", name: "sda1", majorMinor: "8:1", holders: [] },
          { kind: "block", name: "sda2", majorMinor: null, holders: [] },
        ],
        [
          { majorMinor: "8:1", mountPoint: "/srv", source: "/dev/sda1" },
          { majorMinor: "8:1", mountPoint: "/srv", source: "/dev/sda1" },
          { majorMinor: "8:1", mountPoint: "/var/lib/x", source: "/dev/sda1" },
        ],
        [],
      ),
    ).toEqual([{ kind: "mounted", name: "sda1", reason: "sda1 is mounted on /srv, /var/lib/x" }]);
  });
});
