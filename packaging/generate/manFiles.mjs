// The FILES section of vfio-autobind(8): every path the program reads or writes, taken from
// the program's own paths module (src/paths.ts) rather than restated here, so a moved path
// moves in the manual too. The package's own files that an admin deals with (the udev rule,
// the kernel hook) come from the layout, which carries their description.
import path from "node:path";

/**
 * @param {ReturnType<typeof import("../programPaths.mjs").loadProgramPaths>} p
 * @param {{ path: string, describe: string }[]} packaged  the package's files with a description
 * @returns {{ path: string, describe: string }[]}
 */
export function manFiles(p, packaged) {
  const root = p.DEFAULT_PATHS;
  const generated = p.generatedPaths(root.configDir);
  const state = p.statePaths(root.stateDir);
  const sysfs = p.sysfsPaths(root.sysfsRoot);
  const policy = p.modulePolicyPaths(root.modprobeRoot, root.procRoot);
  const modules = path.posix.join(root.modulesBase, "RELEASE");
  return [
    {
      path: path.posix.join(root.configDir, "*.conf"),
      describe: "the claim files, read in name order; see vfio-autobind.conf(5)",
    },
    {
      path: generated.holdScript,
      describe:
        "the boot-time hold script, generated from the claims by claim, unclaim and apply; the initramfs hooks copy it into the image, and vfio-autobind-hold.service runs it before udev's coldplug",
    },
    {
      path: generated.initramfsStamp("RELEASE"),
      describe: "the claims each kernel release's initramfs was built with, to tell when it is stale",
    },
    {
      path: root.rulesFile,
      describe: "the udev rules generated from the claims by claim, unclaim and apply; do not edit",
    },
    ...packaged,
    {
      path: path.posix.join(state.devices, "ADDRESS.json"),
      describe:
        "one bind record per device vfio-autobind bound or held: the driver and override it had; gone after a reboot",
    },
    { path: `${state.locks}/`, describe: "one lock file per IOMMU group, taken with flock(1)" },
    {
      path: `${state.sriov}/`,
      describe: "the sriov_drivers_autoprobe value of each PF before a VfsOf= claim set it to 0",
    },
    {
      path: `${sysfs.pciDevices}/`,
      describe:
        "each device's driver, driver_override, IOMMU group and SR-IOV links; the only place bindings are changed",
    },
    {
      path: path.posix.join(modules, "modules.alias"),
      describe: "the vfio_pci: aliases of the running kernel's modules, which rank the VFIO drivers",
    },
    {
      path: path.posix.join(modules, "modules.builtin.modinfo"),
      describe: "the same for modules built into the kernel",
    },
    {
      path: policy.modprobeDirs.map((dir) => `${dir}/`).join(", "),
      describe: "blacklist and install lines: a VFIO module forbidden there is skipped",
    },
    {
      path: policy.kernelCommandLine,
      describe: `the kernel command line: module_blacklist= skips a VFIO module, ${p.HOLD_SWITCH}=0 turns every hold off`,
    },
    {
      path: path.posix.join(root.procRoot, "*", "fd"),
      describe: "which processes hold a device's VFIO nodes open (and maps, for a BAR mapped through the cdev)",
    },
    {
      path: `${path.posix.dirname(p.vfioNodePaths.cdevDir)}/`,
      describe:
        "the devices' VFIO nodes: a group node per IOMMU group, and devices/vfioN per device on kernels with iommufd",
    },
    {
      path: p.accountPaths(root.accountsRoot).loginDefs,
      describe: "SYS_UID_MAX and SYS_GID_MAX, the system account range Owner= must fall in",
    },
    { path: p.PCI_IDS_PATHS.join(", "), describe: "device names for list, when present" },
    {
      path: p
        .initramfsImages("RELEASE")
        .map((file) => path.posix.join(root.toolsRoot, file))
        .join(", "),
      describe: "the running kernel's initramfs, checked for stale holds",
    },
    {
      path: root.kmsg,
      describe:
        "where the udev helper logs one line per decision, as vfio-autobind[PID] (journalctl -t vfio-autobind, dmesg)",
    },
    {
      path: root.journalSocket,
      describe: "the stream socket of systemd-journald, for lines the kernel log cannot take",
    },
  ];
}
