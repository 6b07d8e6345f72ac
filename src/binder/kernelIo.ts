/**
 * Everything the binder does to the kernel, as one small interface: write a sysfs
 * attribute, load a module. Production uses the real file write and modprobe; the tests
 * put a simulated kernel here, below the binder, so the whole bind sequence runs unchanged.
 */
import { modprobe } from "../kmod/loadModule.js";
import { writeSysfsAttribute } from "../sysfs/writeAttribute.js";

export interface KernelIo {
  /** Writes one attribute; throws a Node error whose `code` is the errno. */
  writeAttribute(file: string, value: string): void;
  /** Loads a module and its dependencies; rejects with the reason. */
  loadModule(module: string, timeoutMs: number): Promise<void>;
}

export const realKernelIo: KernelIo = {
  writeAttribute: writeSysfsAttribute,
  loadModule: (module, timeoutMs) => modprobe(module, timeoutMs),
};

/** What the commands and the udev helper act on the kernel through; tests substitute a simulated kernel. */
export interface Adapters {
  kernelIo(sysfsRoot: string): KernelIo;
}

/** The real kernel: sysfs writes and modprobe. */
export const REAL_ADAPTERS: Adapters = { kernelIo: () => realKernelIo };
