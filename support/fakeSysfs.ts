/**
 * A fake sysfs tree with the real layout, for tests: device directories under
 * `devices/pciDDDD:BB/`, links from `bus/pci/devices/`, `driver` and `iommu_group` links,
 * `config` bytes, SR-IOV links, and `/sys/module/<m>/drivers/pci:<d>`.
 *
 * It lives in a fresh directory under the system temporary directory and refuses any other
 * root: nothing a test does may reach the real /sys.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface FakeDeviceSpec {
  readonly address: string;
  readonly vendor: string;
  readonly device: string;
  readonly subsystemVendor?: string;
  readonly subsystemDevice?: string;
  /** Six hex digits; default 020000 (Ethernet). */
  readonly classCode?: string;
  readonly driver?: string;
  readonly driverOverride?: string;
  readonly iommuGroup?: number;
  /** Config header type byte; default 0 (endpoint). */
  readonly headerType?: number;
  /** Address of the bridge this device sits behind; default the root bus. */
  readonly parent?: string;
  readonly numaNode?: number;
  readonly bootVga?: boolean;
  readonly vfioDev?: boolean;
  /** Makes the device an SR-IOV physical function. */
  readonly sriov?: { readonly totalVfs: number; readonly numVfs?: number };
  /** Makes the device a VF of this PF (which must exist). */
  readonly physfn?: string;
}

/** Throws unless `root` is a directory this test run created under the temporary directory. */
export function assertFakeSysfsRoot(root: string): void {
  const real = fs.realpathSync(root);
  const tmp = fs.realpathSync(os.tmpdir());
  if (real === "/sys" || real.startsWith("/sys/") || !real.startsWith(`${tmp}/`)) {
    throw new Error(`refusing to use ${root} as a fake sysfs root: tests may only write under ${tmp}`);
  }
}

const upper = (hex: string): string => hex.toUpperCase();

export function modaliasFor(spec: FakeDeviceSpec): string {
  const cls = spec.classCode ?? "020000";
  const sv = spec.subsystemVendor ?? spec.vendor;
  const sd = spec.subsystemDevice ?? spec.device;
  return (
    `pci:v0000${upper(spec.vendor)}d0000${upper(spec.device)}sv0000${upper(sv)}sd0000${upper(sd)}` +
    `bc${upper(cls.slice(0, 2))}sc${upper(cls.slice(2, 4))}i${upper(cls.slice(4, 6))}`
  );
}

function configBytes(spec: FakeDeviceSpec): Buffer {
  const config = Buffer.alloc(64);
  const cls = spec.classCode ?? "020000";
  config.writeUInt16LE(Number.parseInt(spec.vendor, 16), 0);
  config.writeUInt16LE(Number.parseInt(spec.device, 16), 2);
  config[0x09] = Number.parseInt(cls.slice(4, 6), 16);
  config[0x0a] = Number.parseInt(cls.slice(2, 4), 16);
  config[0x0b] = Number.parseInt(cls.slice(0, 2), 16);
  config[0x0e] = spec.headerType ?? 0;
  return config;
}

export class FakeSysfs {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** Wraps a tree made earlier (by this process or another one). */
  static open(root: string): FakeSysfs {
    assertFakeSysfsRoot(root);
    return new FakeSysfs(fs.realpathSync(root));
  }

  static create(): FakeSysfs {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-sysfs-")));
    assertFakeSysfsRoot(root);
    const tree = new FakeSysfs(root);
    fs.mkdirSync(tree.at("bus/pci/devices"), { recursive: true });
    fs.mkdirSync(tree.at("bus/pci/drivers"), { recursive: true });
    fs.mkdirSync(tree.at("kernel/iommu_groups"), { recursive: true });
    fs.mkdirSync(tree.at("module"), { recursive: true });
    fs.writeFileSync(tree.at("bus/pci/drivers_probe"), "");
    return tree;
  }

  /** An absolute path inside the tree. */
  at(relative: string): string {
    const full = path.resolve(this.root, relative);
    if (full !== this.root && !full.startsWith(`${this.root}/`)) throw new Error(`${relative} leaves the fake tree`);
    return full;
  }

  /** Creates or replaces a relative link; safe when another process makes the same link at once. */
  private link(from: string, to: string): void {
    fs.mkdirSync(path.dirname(from), { recursive: true });
    const target = path.relative(path.dirname(from), to);
    for (;;) {
      try {
        fs.symlinkSync(target, from);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        try {
          if (fs.readlinkSync(from) === target) return;
        } catch {
          // vanished in between: try again
        }
        fs.rmSync(from, { force: true });
      }
    }
  }

  /** The real (devices/...) directory of a device. */
  deviceDir(address: string): string {
    return fs.realpathSync(this.at(`bus/pci/devices/${address}`));
  }

  addDriver(driver: string, module?: string): void {
    const dir = this.at(`bus/pci/drivers/${driver}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of ["bind", "unbind", "new_id", "remove_id"]) {
      if (!fs.existsSync(path.join(dir, file))) fs.writeFileSync(path.join(dir, file), "");
    }
    if (module !== undefined) {
      fs.mkdirSync(this.at(`module/${module}`), { recursive: true });
      this.link(this.at(`module/${module}/drivers/pci:${driver}`), dir);
      this.link(path.join(dir, "module"), this.at(`module/${module}`));
    }
  }

  addDevice(spec: FakeDeviceSpec): string {
    const [domain, bus] = spec.address.split(":") as [string, string];
    const parentDir = spec.parent === undefined ? this.at(`devices/pci${domain}:${bus}`) : this.deviceDir(spec.parent);
    const dir = path.join(parentDir, spec.address);
    fs.mkdirSync(dir, { recursive: true });
    const write = (name: string, content: string | Buffer): void => fs.writeFileSync(path.join(dir, name), content);
    write("vendor", `0x${spec.vendor}\n`);
    write("device", `0x${spec.device}\n`);
    write("subsystem_vendor", `0x${spec.subsystemVendor ?? spec.vendor}\n`);
    write("subsystem_device", `0x${spec.subsystemDevice ?? spec.device}\n`);
    write("class", `0x${spec.classCode ?? "020000"}\n`);
    write("modalias", `${modaliasFor(spec)}\n`);
    write("driver_override", `${spec.driverOverride ?? "(null)"}\n`);
    write("numa_node", `${spec.numaNode ?? -1}\n`);
    write("config", configBytes(spec));
    if (spec.bootVga !== undefined) write("boot_vga", spec.bootVga ? "1\n" : "0\n");
    if (spec.vfioDev === true) fs.mkdirSync(path.join(dir, "vfio-dev"), { recursive: true });
    this.link(this.at(`bus/pci/devices/${spec.address}`), dir);
    this.link(path.join(dir, "subsystem"), this.at("bus/pci"));

    if (spec.iommuGroup !== undefined) {
      const group = this.at(`kernel/iommu_groups/${spec.iommuGroup}`);
      fs.mkdirSync(path.join(group, "devices"), { recursive: true });
      this.link(path.join(group, "devices", spec.address), dir);
      this.link(path.join(dir, "iommu_group"), group);
    }
    if (spec.sriov !== undefined) {
      write("sriov_totalvfs", `${spec.sriov.totalVfs}\n`);
      write("sriov_numvfs", `${spec.sriov.numVfs ?? 0}\n`);
      write("sriov_drivers_autoprobe", "1\n");
      // VF n sits at the PF's routing id + offset + n * stride (QEMU's NVMe uses 1 and 1).
      write("sriov_offset", "1\n");
      write("sriov_stride", "1\n");
    }
    if (spec.physfn !== undefined) {
      const pfDir = this.deviceDir(spec.physfn);
      this.link(path.join(dir, "physfn"), pfDir);
      const index = fs.readdirSync(pfDir).filter((e) => e.startsWith("virtfn")).length;
      this.link(path.join(pfDir, `virtfn${index}`), dir);
    }
    if (spec.driver !== undefined) this.bindDriver(spec.address, spec.driver);
    return dir;
  }

  /** Makes the tree show `address` bound to `driver` (links both ways). */
  bindDriver(address: string, driver: string): void {
    this.addDriver(driver);
    const dir = this.deviceDir(address);
    const driverDir = this.at(`bus/pci/drivers/${driver}`);
    this.link(path.join(dir, "driver"), driverDir);
    this.link(path.join(driverDir, address), dir);
  }

  /** Undoes bindDriver; false when the device was not bound to that driver. */
  unbindDriver(address: string, driver: string): boolean {
    const dir = this.deviceDir(address);
    const link = path.join(dir, "driver");
    let current: string;
    try {
      current = path.basename(fs.readlinkSync(link));
    } catch {
      return false;
    }
    if (current !== driver) return false;
    fs.rmSync(link, { force: true });
    // The vfio-dev/ directory (Linux 6.1 on) goes with the VFIO driver that made it.
    fs.rmSync(path.join(dir, "vfio-dev"), { recursive: true, force: true });
    fs.rmSync(this.at(`bus/pci/drivers/${driver}/${address}`), { force: true });
    return true;
  }

  /** Hot-removes a device: its directory and every link to it disappear. */
  removeDevice(address: string): void {
    let dir: string;
    try {
      dir = this.deviceDir(address);
    } catch {
      return;
    }
    const driverLink = path.join(dir, "driver");
    if (fs.existsSync(driverLink)) {
      fs.rmSync(this.at(`bus/pci/drivers/${path.basename(fs.readlinkSync(driverLink))}/${address}`), { force: true });
    }
    const groupLink = path.join(dir, "iommu_group");
    if (fs.existsSync(groupLink)) fs.rmSync(path.join(fs.realpathSync(groupLink), "devices", address), { force: true });
    fs.rmSync(this.at(`bus/pci/devices/${address}`), { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }

  /**
   * A block device under a PCI device (`relative` to its directory, such as
   * `nvme/nvme0/nvme0n1/nvme0n1p1`), with its `dev` numbers and a `subsystem` link, as the
   * host's view of what it uses below the device reads it.
   */
  addBlockDevice(address: string, relative: string, majorMinor: string): string {
    const dir = this.addClassDevice(address, relative, "block");
    fs.writeFileSync(path.join(dir, "dev"), `${majorMinor}\n`);
    fs.mkdirSync(path.join(dir, "holders"), { recursive: true });
    return dir;
  }

  /** A network interface under a PCI device (`virtio0/net/eth0`), with its `flags` (`0x1003`: up). */
  addNetInterface(address: string, relative: string, flags: string): string {
    const dir = this.addClassDevice(address, relative, "net");
    fs.writeFileSync(path.join(dir, "flags"), `${flags}\n`);
    return dir;
  }

  private addClassDevice(address: string, relative: string, subsystem: string): string {
    const dir = path.join(this.deviceDir(address), relative);
    fs.mkdirSync(dir, { recursive: true });
    this.link(path.join(dir, "subsystem"), this.at(`class/${subsystem}`));
    return dir;
  }

  /** Overwrites one attribute file of a device, for odd-contents tests. */
  writeAttribute(address: string, name: string, content: string): void {
    fs.writeFileSync(path.join(this.deviceDir(address), name), content);
  }

  remove(): void {
    assertFakeSysfsRoot(this.root);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
