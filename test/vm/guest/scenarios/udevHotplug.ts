/**
 * Issue scenario 3 through udev: two virtio-net devices hot-plugged through QMP
 * device_add, one behind the port the boot claims name (hotplug2), one behind a port
 * they do not (hotplug3). Both come up on virtio-pci (the driver is loaded, so the kernel
 * binds at once); udev's helper must move the claimed one to its variant, and nothing
 * must touch the other.
 */
import { udevHotplugDevices, udevClaimedDevices } from "../../shared/udevClaims.js";
import type { DeviceState, JournalWindow } from "../../shared/protocol.js";
import {
  devicesBehind,
  journalMark,
  journalWindow,
  readDevice,
  udevSettle,
  waitFor,
  type CommandRun,
} from "../guestSystem.js";
import { defineScenario } from "../scenario.js";

export interface UdevHotplugResult {
  readonly claimed: { readonly address: string; readonly device: DeviceState; readonly secondsToBind: number };
  readonly unclaimed: { readonly address: string; readonly device: DeviceState };
  readonly settle: CommandRun;
  /** Everything the journal gained from the first device_add to the settled end. */
  readonly window: JournalWindow;
}

export const udevHotplug = defineScenario<UdevHotplugResult>({
  name: "udev-hotplug",
  async run({ log, requestHotplug }) {
    const mark = journalMark();
    const started = Date.now();
    for (const plug of [udevHotplugDevices.claimed, udevHotplugDevices.unclaimed]) {
      requestHotplug(plug.requestId, {
        driver: "virtio-net-pci",
        id: plug.qemuId,
        bus: plug.port.id,
        "disable-legacy": "on",
      });
    }
    const claimedAddress = await waitFor(
      `a device behind ${udevHotplugDevices.claimed.port.address}`,
      90_000,
      () => devicesBehind(udevHotplugDevices.claimed.port.address)[0],
    );
    const unclaimedAddress = await waitFor(
      `a device behind ${udevHotplugDevices.unclaimed.port.address}`,
      90_000,
      () => devicesBehind(udevHotplugDevices.unclaimed.port.address)[0],
    );
    log.note(`hot-plugged: ${claimedAddress} (claimed), ${unclaimedAddress} (unclaimed)`);
    const expected = udevClaimedDevices[udevHotplugDevices.claimed.address];
    // Polled: the helper runs in udev's own time; udevadm settle alone would prove less.
    await waitFor(
      `${claimedAddress} on ${expected}`,
      45_000,
      () => readDevice(claimedAddress).driver === expected,
    ).catch((error: unknown) => {
      log.note(String(error));
    });
    const secondsToBind = (Date.now() - started) / 1000;
    const settle = udevSettle(log);
    return {
      claimed: { address: claimedAddress, device: readDevice(claimedAddress), secondsToBind },
      unclaimed: { address: unclaimedAddress, device: readDevice(unclaimedAddress) },
      settle,
      window: journalWindow(mark),
    };
  },
});
