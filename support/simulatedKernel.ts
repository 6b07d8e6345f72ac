/**
 * A simulated kernel under the binder's write path, for tests. It reacts to sysfs writes
 * in a fake tree the way the PCI driver core does (drivers/pci/pci-driver.c,
 * drivers/base/bus.c, dd.c):
 *   - driver_override is cut at the first newline; an empty value clears it;
 *   - pci_match_device: with an override, only the driver of exactly that name matches
 *     (strcmp), and it matches even without an id entry; `vfio_pci:` (override-only)
 *     entries match only through the override;
 *   - drivers/<d>/unbind works only for the bound driver (ENODEV otherwise);
 *   - drivers/<d>/bind: ENODEV for no such device or no match, EBUSY when bound, else
 *     the probe's own error;
 *   - drivers_probe reports success whether or not anything bound;
 *   - loading a module registers its driver, which then probes every unbound device it
 *     matches (so an override set earlier takes effect as soon as the driver arrives).
 * All state lives in the tree (plus `.simulated-kernel.json` for driver tables), so many
 * processes can share one simulated kernel, as many udev workers share one real one.
 *
 * Faults can be injected at any numbered operation (each write and each module load is
 * one), which is how the tests walk every step of the bind sequence.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fnmatch } from "../src/alias/fnmatch.js";
import type { KernelIo } from "../src/binder/kernelIo.js";
import { ModuleLoadError } from "../src/kmod/loadModule.js";
import { FakeSysfs } from "./fakeSysfs.js";

export type ProbeBehaviour = "ok" | "silent" | { readonly errno: string };

export interface SimulatedDriver {
  /** PCI driver name, as driver_override wants it (`vfio-pci`). */
  readonly name: string;
  /** Module name, as modprobe wants it (`vfio_pci`). */
  readonly module: string;
  /** Id table as alias patterns: `pci:...` entries, or `vfio_pci:...` for override-only ones. */
  readonly ids: readonly string[];
  readonly probe?: ProbeBehaviour;
  /** Registered from the start (built in or already loaded). */
  readonly loaded?: boolean;
  /** What modprobe does for it. */
  readonly load?: "ok" | "fail" | "timeout";
}

export interface SimulatedKernelConfig {
  readonly drivers: readonly SimulatedDriver[];
}

export type Fault =
  | { readonly errno: "EBUSY" | "ENODEV" | "EINVAL" | "EIO" | "ENOENT" | "EACCES" }
  | "hot-remove"
  | "silent"
  | "host-grab"
  | "modprobe-fail"
  | "modprobe-timeout";

export interface Operation {
  readonly kind: "write" | "modprobe";
  /** Path inside the tree for writes, module name for modprobe. */
  readonly target: string;
  readonly value?: string;
}

const CONFIG_FILE = ".simulated-kernel.json";

function errnoError(code: string, what: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${what}`);
  error.code = code;
  return error;
}

export class SimulatedKernel implements KernelIo {
  readonly tree: FakeSysfs;
  readonly config: SimulatedKernelConfig;
  readonly operations: Operation[] = [];
  private readonly faults = new Map<number, Fault>();
  /** The driver a `host-grab` fault binds: the device's host driver. */
  private readonly hostDrivers = new Map<string, string>();

  private constructor(tree: FakeSysfs, config: SimulatedKernelConfig) {
    this.tree = tree;
    this.config = config;
  }

  /** Writes the driver tables into the tree and registers the drivers marked loaded. */
  static install(tree: FakeSysfs, config: SimulatedKernelConfig): SimulatedKernel {
    fs.writeFileSync(path.join(tree.root, CONFIG_FILE), JSON.stringify(config));
    const kernel = new SimulatedKernel(tree, config);
    for (const driver of config.drivers) if (driver.loaded === true) tree.addDriver(driver.name, driver.module);
    for (const address of fs.readdirSync(tree.at("bus/pci/devices"))) {
      const bound = kernel.boundDriver(address);
      if (bound !== null) kernel.hostDrivers.set(address, bound);
    }
    return kernel;
  }

  /** The simulated kernel of a tree set up by install(), possibly in another process. */
  static open(root: string): SimulatedKernel {
    const tree = FakeSysfs.open(root);
    const config = JSON.parse(fs.readFileSync(path.join(tree.root, CONFIG_FILE), "utf8")) as SimulatedKernelConfig;
    return new SimulatedKernel(tree, config);
  }

  injectFault(at: number, fault: Fault): void {
    this.faults.set(at, fault);
  }

  // ---- reading the tree -------------------------------------------------------------

  private deviceDir(address: string): string | null {
    try {
      return fs.realpathSync(this.tree.at(`bus/pci/devices/${address}`));
    } catch {
      return null;
    }
  }

  boundDriver(address: string): string | null {
    const dir = this.deviceDir(address);
    if (dir === null) return null;
    try {
      return path.basename(fs.readlinkSync(path.join(dir, "driver")));
    } catch {
      return null;
    }
  }

  driverOverride(address: string): string | null {
    const dir = this.deviceDir(address);
    if (dir === null) return null;
    const value = fs.readFileSync(path.join(dir, "driver_override"), "utf8").split("\n")[0] as string;
    return value === "(null)" || value === "" ? null : value;
  }

  private registered(name: string): SimulatedDriver | undefined {
    if (!fs.existsSync(this.tree.at(`bus/pci/drivers/${name}`))) return undefined;
    return this.config.drivers.find((d) => d.name === name);
  }

  private registeredDrivers(): SimulatedDriver[] {
    return this.config.drivers.filter((d) => fs.existsSync(this.tree.at(`bus/pci/drivers/${d.name}`)));
  }

  /** pci_match_device() with the override rules. */
  matches(driver: SimulatedDriver, address: string): boolean {
    const dir = this.deviceDir(address);
    if (dir === null) return false;
    const override = this.driverOverride(address);
    if (override !== null && override !== driver.name) return false;
    const modalias = fs.readFileSync(path.join(dir, "modalias"), "utf8").trim();
    for (const id of driver.ids) {
      if (id.startsWith("vfio_pci:")) {
        if (override === driver.name && fnmatch(id, `vfio_${modalias}`)) return true;
      } else if (fnmatch(id, modalias)) {
        return true;
      }
    }
    return override === driver.name;
  }

  // ---- the driver core ----------------------------------------------------------------

  /** really_probe(): EBUSY if bound (the link is created atomically), else the probe's result. */
  private probe(driver: SimulatedDriver, address: string): void {
    const behaviour = driver.probe ?? "ok";
    if (behaviour === "silent") return;
    if (typeof behaviour === "object") throw errnoError(behaviour.errno, `${driver.name} probe of ${address}`);
    const dir = this.deviceDir(address);
    if (dir === null) throw errnoError("ENODEV", address);
    const driverDir = this.tree.at(`bus/pci/drivers/${driver.name}`);
    try {
      fs.symlinkSync(path.relative(dir, driverDir), path.join(dir, "driver"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw errnoError("EBUSY", `${address} already bound`);
      throw error;
    }
    fs.rmSync(path.join(driverDir, address), { force: true });
    fs.symlinkSync(path.relative(driverDir, dir), path.join(driverDir, address));
    // A vfio-pci-core driver registers the device's vfio-dev/vfioN cdev (Linux 6.1 on).
    if (driver.ids.length > 0 && driver.ids.every((id) => id.startsWith("vfio_pci:"))) {
      fs.mkdirSync(path.join(dir, "vfio-dev", "vfio0"), { recursive: true });
    }
  }

  /** device_attach(): the first registered driver that matches and probes wins. */
  private attach(address: string): void {
    if (this.boundDriver(address) !== null) return;
    for (const driver of this.registeredDrivers()) {
      if (!this.matches(driver, address)) continue;
      try {
        this.probe(driver, address);
        if (this.boundDriver(address) !== null) return;
      } catch {
        // a failed probe lets the next driver try, and is not reported to the writer
      }
    }
  }

  private register(driver: SimulatedDriver): void {
    this.tree.addDriver(driver.name, driver.module);
    // driver_attach(): probe every unbound device the new driver matches.
    for (const address of fs.readdirSync(this.tree.at("bus/pci/devices"))) {
      if (this.boundDriver(address) !== null || !this.matches(driver, address)) continue;
      try {
        this.probe(driver, address);
      } catch {
        // as above
      }
    }
  }

  // ---- KernelIo ------------------------------------------------------------------------

  private nextFault(operation: Operation): Fault | undefined {
    const index = this.operations.length;
    this.operations.push(operation);
    return this.faults.get(index);
  }

  writeAttribute(file: string, value: string): void {
    const relative = path.relative(this.tree.root, file);
    const fault = this.nextFault({ kind: "write", target: relative, value });
    const address = value.split("\n")[0] as string;
    const overrideMatch = /^bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(relative);
    const subject = overrideMatch?.[1] ?? address;

    if (fault === "hot-remove") this.tree.removeDevice(subject);
    else if (fault === "silent") return;
    else if (typeof fault === "object") throw errnoError(fault.errno, relative);

    this.perform(relative, value);
    if (fault === "host-grab") {
      const host = this.hostDrivers.get(subject);
      if (host !== undefined && this.boundDriver(subject) === null && this.deviceDir(subject) !== null)
        this.tree.bindDriver(subject, host);
    }
  }

  private perform(relative: string, value: string): void {
    const line = value.split("\n")[0] as string;
    const override = /^bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(relative);
    if (override !== null) {
      const dir = this.deviceDir(override[1] as string);
      if (dir === null) throw errnoError("ENOENT", relative);
      fs.writeFileSync(path.join(dir, "driver_override"), line === "" ? "(null)\n" : `${line}\n`);
      return;
    }
    const driverFile = /^bus\/pci\/drivers\/([^/]+)\/(bind|unbind)$/.exec(relative);
    if (driverFile !== null) {
      const driver = this.registered(driverFile[1] as string);
      if (driver === undefined) throw errnoError("ENOENT", relative);
      if (this.deviceDir(line) === null) throw errnoError("ENODEV", `no device ${line}`);
      if (driverFile[2] === "unbind") {
        if (!this.tree.unbindDriver(line, driver.name))
          throw errnoError("ENODEV", `${line} is not bound to ${driver.name}`);
        return;
      }
      if (this.boundDriver(line) !== null) throw errnoError("EBUSY", `${line} already bound`);
      if (!this.matches(driver, line)) throw errnoError("ENODEV", `${driver.name} does not match ${line}`);
      this.probe(driver, line);
      return;
    }
    const autoprobe = /^bus\/pci\/devices\/([^/]+)\/sriov_drivers_autoprobe$/.exec(relative);
    if (autoprobe !== null) {
      const dir = this.deviceDir(autoprobe[1] as string);
      if (dir === null || !fs.existsSync(path.join(dir, "sriov_drivers_autoprobe")))
        throw errnoError("ENOENT", relative);
      if (line !== "0" && line !== "1") throw errnoError("EINVAL", relative);
      fs.writeFileSync(path.join(dir, "sriov_drivers_autoprobe"), `${line}\n`);
      return;
    }
    if (relative === "bus/pci/drivers_probe") {
      if (this.deviceDir(line) === null) throw errnoError("ENODEV", `no device ${line}`);
      this.attach(line);
      return;
    }
    throw new Error(`simulated kernel: unexpected write of ${JSON.stringify(value)} to ${relative}`);
  }

  async loadModule(module: string, timeoutMs: number): Promise<void> {
    // A real modprobe is a child process: other work runs while it loads.
    await Promise.resolve();
    this.loadModuleNow(module, timeoutMs);
  }

  /** The same load, at once: udev's kmod builtin, in-process while the rules run. */
  loadModuleNow(module: string, timeoutMs: number): void {
    const fault = this.nextFault({ kind: "modprobe", target: module });
    const driver = this.config.drivers.find((d) => d.module === module);
    const load = fault === "modprobe-fail" ? "fail" : fault === "modprobe-timeout" ? "timeout" : (driver?.load ?? "ok");
    if (driver === undefined)
      throw new ModuleLoadError(
        `modprobe ${module} failed: modprobe: FATAL: Module ${module} not found in directory /lib/modules/sim`,
      );
    if (load === "timeout")
      throw new ModuleLoadError(`modprobe ${module} timed out after ${Math.round(timeoutMs / 1000)} s`);
    if (load === "fail")
      throw new ModuleLoadError(
        `modprobe ${module} failed: modprobe: ERROR: could not insert '${module}': Invalid argument`,
      );
    // Registering is idempotent, and done by every loader: like a second modprobe that
    // waits for a module still initialising in another process, this one returns only once
    // the driver is fully there.
    this.register(driver);
  }
}
