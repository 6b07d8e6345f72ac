/**
 * The udev helper's guarantee that a device held for it is never left held: however the
 * event ends (done, an error, a signal, the backstop), end() lets go of an override of ours
 * on a device with no driver (binder/failOpen.ts). Ours is the hold, the driver the rules
 * wrote for this event, and, on a device that came held, every value the helper itself
 * wrote to its driver_override, which is why the event's kernel writes go through here.
 * Once the event has ended nothing more is written or loaded for it, so that a step still
 * under way when a signal came cannot undo the last resort.
 */
import { releaseHold, twice, type HoldRelease } from "../binder/failOpen.js";
import type { KernelIo } from "../binder/kernelIo.js";
import { RuntimeFailure } from "../errors.js";
import { sysfsPaths } from "../paths.js";
import { isOverrideOurs } from "../policy/hold.js";
import { isSysfsPciName } from "../sysfs/pciAddress.js";
import { readDriverOverride } from "../sysfs/pciDevice.js";

export interface HoldGuard {
  /** The kernel the event acts through. */
  readonly kernel: KernelIo;
  /** Ends the event and lets go of a hold still ours; null when it had ended already. */
  end(): HoldRelease | null;
}

export function holdGuard(sysfsRoot: string, address: string, rulesDriver: string | null, kernel: KernelIo): HoldGuard {
  const overrideFile = isSysfsPciName(address) ? sysfsPaths(sysfsRoot).driverOverride(address) : null;
  let cameHeld = false;
  try {
    cameHeld =
      overrideFile !== null &&
      isOverrideOurs(
        twice(() => readDriverOverride(sysfsRoot, address)),
        rulesDriver,
      );
  } catch {
    // Unreadable now: only the hold and the rules' driver count as ours at the end.
  }
  const written = new Set<string>();
  let ended = false;
  const guarded: KernelIo = {
    writeAttribute(file, value) {
      if (ended) throw new RuntimeFailure("the event has ended; nothing more is written");
      const line = value.split("\n")[0] as string;
      if (cameHeld && file === overrideFile && line !== "") written.add(line);
      kernel.writeAttribute(file, value);
    },
    loadModule(module, timeoutMs) {
      if (ended) return Promise.reject(new RuntimeFailure("the event has ended; no module is loaded"));
      return kernel.loadModule(module, timeoutMs);
    },
  };
  return {
    kernel: guarded,
    end() {
      if (ended) return null;
      ended = true;
      const ours = (override: string | null): boolean =>
        isOverrideOurs(override, rulesDriver) || (override !== null && written.has(override));
      return releaseHold({ sysfsRoot, address, kernel }, ours);
    },
  };
}
