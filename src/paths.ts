/**
 * Every path vfio-autobind uses, in one place (after mdevctl's `Environment`): the default
 * locations on a host, and every file derived from a root (sysfs attributes, state records,
 * locks). Nothing else in the tool joins these paths by hand.
 *
 * A name that becomes part of a path (a driver, a module, a device address, a lock key) is
 * checked here against a strict pattern first, whether it came from the command line, from
 * sysfs or from a record on disk: stored data is data, never a way out of its root.
 */
import * as os from "node:os";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "./errors.js";
import { isSysfsPciName } from "./sysfs/pciAddress.js";

/**
 * Every file and tree the tool reads or writes on one system, all derived from where that
 * system's / is: the host's own (DEFAULT_PATHS), or an image being built or a test's tree
 * (`--root DIR`). Each can still be moved on its own by its option (PATH_OPTIONS).
 */
export interface Environment {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  readonly stateDir: string;
  readonly configDir: string;
  readonly rulesFile: string;
  /** The kernel's module directories, one per release: `<modulesBase>/$(uname -r)`. */
  readonly modulesBase: string;
  /** The running kernel's module directory, holding modules.alias. */
  readonly modulesDir: string;
  /**
   * The kernel log, where the udev helper writes its decisions (journald stores them under
   * their syslog identifier): one open and write per line, no socket, no `net` to load.
   */
  readonly kmsg: string;
  /** journald's stream socket: the udev helper's way to the journal when the kernel log is not usable. */
  readonly journalSocket: string;
  /** The root under which kmod's modprobe.d directories are read. */
  readonly modprobeRoot: string;
  /** The root under which etc/login.defs is read for Owner=. */
  readonly accountsRoot: string;
  /** The device nodes (devtmpfs): the kernel's VFIO nodes are `vfio/<group>` and `vfio/devices/vfioN` under it. */
  readonly devRoot: string;
  /** The root under which the initramfs generators and images are looked for. */
  readonly toolsRoot: string;
}

/** The system whose / is `root`. */
export function environmentUnder(root: string): Environment {
  const at = (...parts: string[]): string => path.join(root, ...parts);
  const modulesBase = at("lib", "modules");
  return {
    sysfsRoot: at("sys"),
    procRoot: at("proc"),
    stateDir: at("run", "vfio-autobind"),
    configDir: at("etc", "vfio-autobind"),
    rulesFile: at("etc", "udev", "rules.d", "69-vfio-autobind-claims.rules"),
    modulesBase,
    modulesDir: path.join(modulesBase, os.release()),
    kmsg: at("dev", "kmsg"),
    journalSocket: at("run", "systemd", "journal", "stdout"),
    modprobeRoot: root,
    accountsRoot: root,
    devRoot: at("dev"),
    toolsRoot: root,
  };
}

/** Where things are on a real host. The CLI's option defaults, the udev helper and the packages read these. */
export const DEFAULT_PATHS = {
  ...environmentUnder("/"),
  /** What looks accounts up through NSS for Owner=, as udevd resolves them (tests give a stand-in). */
  getent: "getent",
} as const;

/** The option (the CLI's and the udev helper's) that moves each path of an Environment on its own. */
export const PATH_OPTIONS = {
  sysfsRoot: "sysfs-root",
  procRoot: "proc-root",
  stateDir: "state-dir",
  configDir: "config-dir",
  rulesFile: "rules-file",
  modulesDir: "modules-dir",
  kmsg: "kmsg",
  journalSocket: "journal-socket",
  modprobeRoot: "modprobe-root",
  accountsRoot: "accounts-root",
  devRoot: "dev-root",
  toolsRoot: "tools-root",
} as const satisfies { readonly [K in Exclude<keyof Environment, "modulesBase">]: string };

/** The option that moves every path at once: the system's / . */
export const ROOT_OPTION = "root";

/** The Environment a command line asks for: `--root` (default /), then each path's own option over it. */
export function environmentFrom(options: Readonly<Record<string, string | undefined>>): Environment {
  const root = options[ROOT_OPTION] ?? "/";
  if (root === "") throw new UsageError(`--${ROOT_OPTION}: an empty path; give the directory that is the system's /`);
  const under = environmentUnder(path.resolve(root));
  const moved = Object.entries(PATH_OPTIONS).map(([key, option]) => [key, options[option]] as const);
  return { ...under, ...Object.fromEntries(moved.filter(([, value]) => value !== undefined)) };
}

/** The running kernel's release under a /proc root, as `uname -r` prints it. */
export const kernelReleaseFile = (procRoot: string): string => path.join(procRoot, "sys", "kernel", "osrelease");

/**
 * The initramfs generators whose images vfio-autobind's hooks put the hold script into:
 * where each is installed (relative to a root; usr-merged or not) and the command that
 * rebuilds the image of one kernel release.
 */
export const INITRAMFS_GENERATORS = [
  {
    name: "initramfs-tools",
    files: ["usr/sbin/update-initramfs", "sbin/update-initramfs"],
    refresh: (release: string): string =>
      `update-initramfs -u -k ${checked("kernel release", release, isSafeKernelRelease)}`,
  },
  {
    name: "dracut",
    files: ["usr/bin/dracut", "usr/sbin/dracut", "sbin/dracut"],
    refresh: (release: string): string => `dracut -f --kver ${checked("kernel release", release, isSafeKernelRelease)}`,
  },
] as const;

/**
 * Where the running kernel's initramfs image is, relative to a root: initramfs-tools and
 * Debian's dracut write `boot/initrd.img-<release>`, Fedora's dracut
 * `boot/initramfs-<release>.img`. A machine with none of them boots without an initramfs.
 */
export const initramfsImages = (release: string): readonly string[] => {
  const safe = checked("kernel release", release, isSafeKernelRelease);
  return [path.join("boot", `initrd.img-${safe}`), path.join("boot", `initramfs-${safe}.img`)];
};

/**
 * kmod's configuration directories, highest precedence first: a file name in an earlier
 * directory hides the same name in a later one (libkmod's conf_files_list).
 */
export const MODPROBE_DIRS = [
  "etc/modprobe.d",
  "run/modprobe.d",
  "usr/local/lib/modprobe.d",
  "usr/lib/modprobe.d",
  "lib/modprobe.d",
] as const;

/** What the module policy reads: the modprobe.d directories under a root, and the kernel command line. */
export function modulePolicyPaths(modprobeRoot: string, procRoot: string) {
  return {
    modprobeDirs: MODPROBE_DIRS.map((dir) => path.join(modprobeRoot, dir)),
    kernelCommandLine: path.join(procRoot, "cmdline"),
  };
}

/** Where the system uid and gid ranges Owner= is judged by are set, under a root (accounts themselves come from NSS). */
export function accountPaths(accountsRoot: string) {
  return { loginDefs: path.join(accountsRoot, "etc", "login.defs") };
}

/**
 * The VFIO nodes of a device as the kernel names them (what /proc fd links show, so always
 * under the real /dev): the group node and the iommufd cdev. Group and cdev names are
 * checked first, like every name that becomes a path.
 */
const devVfio = path.join(DEFAULT_PATHS.devRoot, "vfio");
export const vfioNodePaths = {
  group: (group: string): string => path.join(devVfio, checked("IOMMU group", group, isSafeIommuGroup)),
  cdevDir: path.join(devVfio, "devices"),
  cdev: (name: string): string => path.join(devVfio, "devices", checked("VFIO cdev", name, isSafeCdevName)),
};

/** The file of a node vfioNodePaths names, under a /dev root: the node itself on a host, a test's stand-in under test. */
export const vfioNodeFile = (devRoot: string, node: string): string =>
  path.join(devRoot, path.relative(DEFAULT_PATHS.devRoot, node));

/** A name that does not fit its pattern: it never becomes a path. */
export class UnsafeNameError extends RuntimeFailure {
  override readonly name = "UnsafeNameError";
}

// Kernel driver and module names: letters, digits, `_`, `-` (and `.`/`+` in a few drivers),
// never starting with a dot, so `.` and `..` are impossible.
const DRIVER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/;
const MODULE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const IOMMU_GROUP = /^[0-9]{1,10}$/;
const LOCK_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;
const VFIO_CDEV = /^vfio[0-9]{1,9}$/;
const KERNEL_RELEASE = /^[A-Za-z0-9_][A-Za-z0-9_.+~-]{0,127}$/;

export const isSafeDriverName = (name: string): boolean => DRIVER_NAME.test(name);
export const isSafeModuleName = (name: string): boolean => MODULE_NAME.test(name);
/** A device address exactly as sysfs names it (`0000:3b:00.2`). */
export const isSafePciAddress = (name: string): boolean => isSysfsPciName(name);
export const isSafeIommuGroup = (name: string): boolean => IOMMU_GROUP.test(name);
export const isSafeLockKey = (name: string): boolean => LOCK_KEY.test(name);
/** A VFIO device cdev as the kernel names it under `vfio-dev/` and `/dev/vfio/devices/`. */
export const isSafeCdevName = (name: string): boolean => VFIO_CDEV.test(name);
/** A kernel release as `uname -r` prints it (`6.1.0-28-cloud-amd64`). */
export const isSafeKernelRelease = (name: string): boolean => KERNEL_RELEASE.test(name);
function checked(kind: string, name: string, isSafe: (name: string) => boolean): string {
  if (!isSafe(name)) throw new UnsafeNameError(`refusing ${JSON.stringify(name).slice(0, 80)} as a ${kind} name`);
  return name;
}

/** The files under a sysfs root (`/sys`, or a test tree) that vfio-autobind reads and writes. */
export function sysfsPaths(root: string) {
  const pciDevices = path.join(root, "bus", "pci", "devices");
  const device = (address: string): string => path.join(pciDevices, checked("PCI address", address, isSafePciAddress));
  const drivers = path.join(root, "bus", "pci", "drivers");
  const driverDir = (driver: string): string => path.join(drivers, checked("driver", driver, isSafeDriverName));
  const iommuGroups = path.join(root, "kernel", "iommu_groups");
  return {
    root,
    pciDevices,
    /** Where every PCI driver has its directory (bind, unbind, module). */
    drivers,
    device,
    /** One attribute (or link) of a device: `driver_override`, `driver`, `iommu_group`, ... */
    deviceFile: (address: string, name: string): string => path.join(device(address), name),
    driverOverride: (address: string): string => path.join(device(address), "driver_override"),
    boundDriverLink: (address: string): string => path.join(device(address), "driver"),
    sriovAutoprobe: (pf: string): string => path.join(device(pf), "sriov_drivers_autoprobe"),
    driverDir,
    bind: (driver: string): string => path.join(driverDir(driver), "bind"),
    unbind: (driver: string): string => path.join(driverDir(driver), "unbind"),
    moduleOfDriverLink: (driver: string): string => path.join(driverDir(driver), "module"),
    driversProbe: path.join(root, "bus", "pci", "drivers_probe"),
    moduleDrivers: (module: string): string =>
      path.join(root, "module", checked("module", module, isSafeModuleName), "drivers"),
    /** One directory per IOMMU group, named by its number. */
    iommuGroups,
    iommuGroupDevices: (group: string): string =>
      path.join(iommuGroups, checked("IOMMU group", group, isSafeIommuGroup), "devices"),
  };
}
export type SysfsPaths = ReturnType<typeof sysfsPaths>;

/** The files vfio-autobind keeps under its state directory (`/run/vfio-autobind`). */
export function statePaths(stateDir: string) {
  const devices = path.join(stateDir, "devices");
  const locks = path.join(stateDir, "locks");
  const sriov = path.join(stateDir, "sriov");
  return {
    stateDir,
    /** One bind record per device: `devices/<address>.json`. */
    devices,
    record: (address: string): string =>
      path.join(devices, `${checked("PCI address", address, isSafePciAddress)}.json`),
    /** The lock directory: one lock per IOMMU group (or per device without one), lockFile() below. */
    locks,
    /** The sriov_drivers_autoprobe value a PF had before apply set it to 0: `sriov/<pf>.autoprobe`. */
    sriov,
    autoprobeRecord: (pf: string): string =>
      path.join(sriov, `${checked("PCI address", pf, isSafePciAddress)}.autoprobe`),
  };
}
export type StatePaths = ReturnType<typeof statePaths>;

/**
 * The files vfio-autobind generates under its config directory (`/etc/vfio-autobind`), in a
 * subdirectory the claim reader never reads: they must be on the root filesystem, where
 * the unit that runs before udev's coldplug and the initramfs hooks can read them.
 */
export function generatedPaths(configDir: string) {
  const dir = path.join(configDir, "generated");
  return {
    dir,
    /** The POSIX shell script that holds the claimed devices present at boot. */
    holdScript: path.join(dir, "hold-claimed.sh"),
    /** The config digest the initramfs of a kernel release was built with (written by its hook). */
    initramfsStamp: (release: string): string =>
      path.join(dir, `initramfs-${checked("kernel release", release, isSafeKernelRelease)}.digest`),
  };
}

/** The file of one lock in a lock directory, `<key>.lock`: flocked, and naming the holder's pid. */
export function lockFile(lockDir: string, key: string): string {
  return path.join(lockDir, `${checked("lock key", key, isSafeLockKey)}.lock`);
}
