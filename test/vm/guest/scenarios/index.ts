/**
 * The scenarios one guest boot runs, in this order. Each uses its own devices (see
 * shared/machineLayout.ts), so one failing leaves the others' devices alone. A new
 * scenario is a file here, one line in this list, and a test/vm/*.test.ts that asserts on
 * its result through scenarioResult(name).
 *
 * Before any of these runs, main.ts records a "boot" snapshot (every device's driver and
 * override, the tool's journal lines) once udev has settled, and a "final" one after the
 * last. Those are what the udev scenarios to come assert on:
 *
 *   - boot binding: claimed devices on their most specific variant in the "boot" snapshot
 *     (claims and the generated 69-vfio-autobind-claims.rules go into the image through
 *     host/guestOverlay.ts: bootFiles);
 *   - no helper for unclaimed devices: unclaimed devices keep their driver, and the
 *     journal holds no line for them;
 *   - udevadm trigger --action=add --subsystem-match=pci idempotence: a scenario that
 *     triggers twice and compares snapshot() between the runs;
 *   - one journal line per decision: GuestSnapshot.journal (journalctl -t vfio-autobind);
 *   - hotplug of a claimed and an unclaimed device: requestHotplug() onto rootPorts.hotplug2.
 */
import type { Scenario } from "../scenario.js";
import { bindVariant } from "./bindVariant.js";
import { failingVariant } from "./failingVariant.js";
import { hotplug } from "./hotplug.js";
import { nvmeHostDriver } from "./nvmeHostDriver.js";
import { sriovVfs } from "./sriovVfs.js";
import { toolRuns } from "./toolRuns.js";

export const scenarios: readonly Scenario[] = [toolRuns, bindVariant, nvmeHostDriver, failingVariant, sriovVfs, hotplug];
