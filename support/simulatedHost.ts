/**
 * A small host for the binder tests: a fake tree with the devices that exercise each path,
 * a simulated kernel with host and VFIO drivers, a modules directory with the mainline
 * variant aliases, and a state directory. Everything lives under the temp directory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { BindEnvironment, BindRequest } from "../src/binder/bindDevice.js";
import { UNLIMITED_BUDGET } from "../src/binder/budget.js";
import { readVfioAliases } from "../src/kmod/readVfioAliases.js";
import { acquireLock } from "../src/lock/deviceLock.js";
import { statePaths } from "../src/paths.js";
import { vfAddresses } from "../src/sysfs/sriovLayout.js";
import { cliRootArgs, type CliRoots } from "./cliRoots.js";
import { VIRTIO_NET_DEVICE } from "./fakeDevices.js";
import { writeFakeProc } from "./fakeProc.js";
import { FakeSysfs } from "./fakeSysfs.js";
import { makeModulesDir, mainlineVariantsAlias } from "./fixtures.js";
import { SimulatedKernel, type SimulatedDriver } from "./simulatedKernel.js";

export const VIRTIO_NET = VIRTIO_NET_DEVICE.address;
export const NVME = "0000:00:04.0";
export const UNBOUND_VIRTIO_BLK = "0000:00:05.0";
export const BRIDGE = "0000:00:1c.0";
export const PF = "0000:3b:00.0";
export const VF1 = "0000:3b:00.1";
export const VF2 = "0000:3b:00.2";
export const BOOT_VGA = "0000:00:02.0";

export const HOST_DRIVERS: SimulatedDriver[] = [
  { name: "virtio-pci", module: "virtio_pci", ids: ["pci:v00001AF4d*sv*sd*bc*sc*i*"], loaded: true },
  { name: "nvme", module: "nvme", ids: ["pci:v00001B36d00000010sv*sd*bc01sc08i02*"], loaded: true },
  {
    name: "mlx5_core",
    module: "mlx5_core",
    ids: ["pci:v000015B3d0000101Dsv*sd*bc*sc*i*", "pci:v000015B3d0000101Esv*sd*bc*sc*i*"],
    loaded: true,
  },
  { name: "bochs-drm", module: "bochs", ids: ["pci:v00001234d00001111sv*sd*bc03sc*i*"], loaded: true },
];

export function vfioDrivers(overrides: Partial<Record<string, Partial<SimulatedDriver>>> = {}): SimulatedDriver[] {
  const base: SimulatedDriver[] = [
    // vfio_pci's table is one override-only catch-all; its driver is called vfio-pci.
    { name: "vfio-pci", module: "vfio_pci", ids: ["vfio_pci:v*d*sv*sd*bc*sc*i*"] },
    {
      name: "virtio_vfio_pci",
      module: "virtio_vfio_pci",
      ids: ["vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*"],
    },
    { name: "mlx5_vfio_pci", module: "mlx5_vfio_pci", ids: ["vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"] },
  ];
  return base.map((d) => ({ ...d, ...overrides[d.module] }));
}

/** A bind of `address` as `bind <address>` with no options asks for it, with any of them given. */
export const bindRequest = (address: string, extra: Partial<BindRequest> = {}): BindRequest => ({
  address,
  dryRun: false,
  force: false,
  noFallback: false,
  ...extra,
});

export interface SimulatedHost {
  readonly tree: FakeSysfs;
  readonly kernel: SimulatedKernel;
  readonly modulesDir: string;
  readonly stateDir: string;
  readonly procRoot: string;
  /** A /dev for the VFIO nodes that fake processes hold (support/fakeProc.ts). */
  readonly devRoot: string;
  env(overrides?: Partial<BindEnvironment>): BindEnvironment;
  /**
   * The command-line options that point the tool at this host: sysfs, modules, state, /proc
   * and /dev, plus whichever of the other roots a test gives. One list, so no test can leave a
   * root at its default (the host's own /etc or /run) by forgetting it.
   */
  rootArgs(extra?: Omit<CliRoots, "sysfsRoot" | "modulesDir" | "stateDir" | "procRoot" | "devRoot">): string[];
  cleanup(): void;
}

export function makeSimulatedHost(options: { drivers?: SimulatedDriver[]; extraVfs?: number } = {}): SimulatedHost {
  const tree = FakeSysfs.create();
  tree.addDevice({
    address: BOOT_VGA,
    vendor: "1234",
    device: "1111",
    classCode: "030000",
    driver: "bochs-drm",
    bootVga: true,
    iommuGroup: 2,
  });
  tree.addDevice(VIRTIO_NET_DEVICE);
  tree.addDevice({
    address: NVME,
    vendor: "1b36",
    device: "0010",
    subsystemVendor: "1af4",
    subsystemDevice: "1100",
    classCode: "010802",
    driver: "nvme",
    iommuGroup: 4,
  });
  tree.addDevice({
    address: UNBOUND_VIRTIO_BLK,
    vendor: "1af4",
    device: "1042",
    subsystemDevice: "1100",
    classCode: "010000",
    iommuGroup: 5,
  });
  tree.addDevice({
    address: BRIDGE,
    vendor: "8086",
    device: "2918",
    classCode: "060400",
    headerType: 1,
    iommuGroup: 6,
  });
  const vfs = 2 + (options.extraVfs ?? 0);
  tree.addDevice({
    address: PF,
    vendor: "15b3",
    device: "101d",
    parent: BRIDGE,
    driver: "mlx5_core",
    iommuGroup: 7,
    sriov: { totalVfs: vfs, numVfs: vfs },
  });
  // Where the kernel puts them: the PF's routing id + offset 1 + n (the fake PF's layout).
  vfAddresses(PF, 1, 1, vfs).forEach((address, n) => {
    tree.addDevice({
      address,
      vendor: "15b3",
      device: "101e",
      parent: BRIDGE,
      physfn: PF,
      iommuGroup: 101 + n,
      ...(address === VF2 ? { driver: "mlx5_core" } : {}),
    });
  });
  const kernel = SimulatedKernel.install(tree, { drivers: [...HOST_DRIVERS, ...(options.drivers ?? vfioDrivers())] });
  const modulesDir = makeModulesDir({ "modules.alias": mainlineVariantsAlias() });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-state-"));
  const procRoot = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-proc-"));
  writeFakeProc(procRoot);
  const devRoot = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-dev-"));
  const aliasSet = readVfioAliases(modulesDir);
  return {
    tree,
    kernel,
    modulesDir,
    stateDir,
    procRoot,
    devRoot,
    rootArgs: (extra = {}) => cliRootArgs({ ...extra, sysfsRoot: tree.root, modulesDir, stateDir, procRoot, devRoot }),
    env: (overrides = {}) => ({
      sysfsRoot: tree.root,
      procRoot,
      devRoot,
      stateDir,
      aliasSet,
      modulePolicy: new Map(),
      builtinModules: new Set(),
      kernel,
      modprobeTimeoutMs: 5_000,
      budget: UNLIMITED_BUDGET,
      lock: (key, timeoutMs) => acquireLock(statePaths(stateDir).locks, key, { timeoutMs: Math.min(timeoutMs, 5_000) }),
      now: () => new Date("2026-11-24T12:00:00Z"),
      ...overrides,
    }),
    cleanup: () => {
      tree.remove();
      for (const dir of [modulesDir, stateDir, procRoot, devRoot]) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
