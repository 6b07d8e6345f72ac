/**
 * The udev scenarios, waiting for the rule and claims. Each becomes a guest
 * scenario (guest/scenarios/index.ts says where its inputs come from) plus assertions here.
 */
import { it } from "vitest";
import { describeVm } from "./scenarioReport.js";

describeVm("udev (waiting for claims and the rule)", () => {
  it.todo("1 boot: every claimed device ends on its most specific variant; unclaimed keep their driver");
  it.todo("1 boot: no helper ran for an unclaimed device");
  it.todo("2 NVMe claimed at boot: nvme unbound, vfio-pci bound by the rule");
  it.todo("3 hotplug: a claimed device is bound, an unclaimed one left alone");
  it.todo("4 new claim + udevadm trigger --action=add --subsystem-match=pci takes effect; again changes nothing");
  it.todo("7 SR-IOV: claimed VFs bound by the rule as they appear");
  it.todo("8 journalctl -t vfio-autobind: one line per decision");
});
