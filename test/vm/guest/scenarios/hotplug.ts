/**
 * Scenario (e): a virtio-net device hot-plugged through QMP device_add onto a free root
 * port comes up on virtio-pci, and `bind` takes it to the most specific variant.
 */
import { rootPorts } from "../../shared/machineLayout.js";
import type { DeviceState } from "../../shared/protocol.js";
import { devicesBehind, readDevice, waitFor } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";
import { bindStep, type ToolStep } from "./bindSteps.js";

export interface HotplugResult {
  readonly address: string;
  /** The device once its host driver had settled (virtio_pci is loaded, so it binds at once). */
  readonly asAdded: DeviceState;
  readonly bind: ToolStep;
}

export const hotplug = defineScenario<HotplugResult>({
  name: "hotplug",
  async run({ log, requestHotplug }) {
    const port = rootPorts.hotplug1;
    requestHotplug("hotplug-net", {
      driver: "virtio-net-pci",
      id: "hotplug-net",
      bus: port.id,
      "disable-legacy": "on",
    });
    const address = await waitFor(`a device behind ${port.address}`, 90_000, () => devicesBehind(port.address)[0]);
    log.note(`hot-plugged device appeared at ${address}`);
    const asAdded = await waitFor(`a driver on ${address}`, 30_000, () => {
      const device = readDevice(address);
      return device.driver !== null ? device : null;
    });
    return { address, asAdded, bind: bindStep(log, address) };
  },
});
