// What the packages do when they are installed, upgraded and removed, written once as POSIX
// sh and wrapped into Debian maintainer scripts and rpm scriptlets. Both do the same:
//
// - install, upgrade, removal: tell udevd to reload its rules (it would notice on its own
//   within a few seconds; this makes it immediate). Never `udevadm trigger`: replaying add
//   events would rebind claimed devices behind the admin's back.
// - install and upgrade: where claims exist, regenerate the udev rules and the hold script
//   from them (`vfio-autobind apply --rules-only`, which binds nothing), so that what is
//   in place matches this version's helper, and a reinstall after a removal takes up the
//   claims again. Enable the hold unit (it holds claimed devices before udev's coldplug at
//   every boot) and the sweep's units (after the coldplug, and periodically, every hold
//   still there goes to the kernel).
// - removal: nothing held may outlive the package. Every held device goes to the kernel
//   now; the generated rules and hold script are removed, so that nothing holds or binds at
//   the next boot; the units are masked; the initramfs is rebuilt through the
//   distribution's own way (update-initramfs's trigger, dracut), which leaves our pieces
//   out. Devices on VFIO drivers stay there (a VM may be using them), and the message says
//   which and the command that frees them now.
// - a package installs or removes kernel modules (a file trigger on the module directories):
//   regenerate the rules, whose decisions come from the new modules.alias, and touch no
//   device. That is for a chroot or an image build, where no systemd runs and the host's
//   /sys may be mounted (mmdebstrap does): the first boot binds by the new decisions.
//   Where systemd runs, the package's depmod renamed modules.alias into place and
//   vfio-autobind-moves.path has seen it: its service moves claimed devices to better
//   drivers (a unit with a policy, which dpkg's policy-rc.d and the admin may stop).
// - purge: forget the units' state. The claim files admins wrote stay (package managers
//   never delete files they did not install); the state under /run goes away at the next
//   boot by itself.
// Installation rebuilds no initramfs: the claims' holds reach it when the admin runs the
// command status names, as a package must not rewrite /boot for a feature not yet used.
import path from "node:path";
import { MOVES_PATH, programFiles, UNITS } from "./layout.mjs";

/** Reloads udev rules when udevd is running here; a chroot, a container or an installer
 * without udevd, or a missing udevadm, is not an error. */
const reloadUdevRules = `reload_udev_rules() {
	# /run/udev/control is udevd's socket: absent in a chroot or before udevd starts.
	if [ -S /run/udev/control ] && command -v udevadm >/dev/null 2>&1; then
		udevadm control --reload || true
	fi
}`;

/** Regenerates the rules and the hold script where claims exist; a broken config is said, not fatal. */
const regenerateRules = `regenerate_rules() {
	claims=$(vfio-autobind hold-script --count-claims 2>/dev/null) || claims=
	case "$claims" in
	"" | *[!0-9]* | 0) return 0 ;;
	esac
	if ! vfio-autobind apply --rules-only >/dev/null; then
		echo "vfio-autobind: the udev rules were not regenerated from the claims; fix them ('vfio-autobind check'), then run 'vfio-autobind apply'" >&2
	fi
}`;

/** Hands every held device to the kernel (the hold script's release-all), while it is still there. */
const releaseHeldDevices = `release_held_devices() {
	if [ -f ${programFiles.holdScript.path} ]; then
		sh ${programFiles.holdScript.path} release-all || true
	fi
}`;

/** Lists the devices that still have bind records (what \`vfio-autobind status\` shows). */
const noticeBoundDevices = `notice_bound_devices() {
	bound=""
	for record in ${programFiles.stateDir.path}/devices/*.json; do
		[ -e "$record" ] || continue
		address=\${record##*/}
		bound="$bound \${address%.json}"
	done
	[ -n "$bound" ] || return 0
	echo "vfio-autobind: these devices stay on their VFIO drivers (a VM may be using them):$bound" >&2
	echo "  To give one back to its host driver once no VM uses it, as root (the command needs no package):" >&2
	echo "    a=ADDRESS; echo \\$a >/sys/bus/pci/devices/\\$a/driver/unbind; echo >/sys/bus/pci/devices/\\$a/driver_override; echo \\$a >/sys/bus/pci/drivers_probe" >&2
	echo "  or reboot: the generated rules and hold script go with the package, so nothing binds them at boot." >&2
}`;

/** Removes what the program generated from the claims. */
const removeGeneratedRules = `remove_generated_rules() {
	rm -f ${programFiles.claimsRule.path} ${programFiles.holdScript.path} ${programFiles.initramfsStamps.path}
	rmdir ${path.posix.dirname(programFiles.holdScript.path)} 2>/dev/null || true
}`;

/** Rebuilds the initramfs without our pieces. Inside dpkg, update-initramfs only activates its trigger. */
const debRebuildInitramfs = `rebuild_initramfs() {
	if command -v update-initramfs >/dev/null 2>&1; then
		update-initramfs -u || echo "vfio-autobind: run 'update-initramfs -u' to remove the device holds from the initramfs" >&2
	fi
}`;
const rpmRebuildInitramfs = `rebuild_initramfs() {
	if command -v dracut >/dev/null 2>&1; then
		dracut -f >/dev/null 2>&1 || echo "vfio-autobind: run 'dracut -f' to remove the device holds from the initramfs" >&2
	fi
}`;

/**
 * The units, as dh_installsystemd's snippets handle units (deb-systemd-helper, from
 * init-system-helpers, which is Essential): enabled on installation, an admin's disable kept
 * across upgrades, masked while the package is removed, forgotten on purge. It works
 * without systemd running, in a chroot too.
 */
const debUnits = {
  enable: `enable_units() {
	for unit in ${UNITS.join(" ")}; do
		deb-systemd-helper unmask "$unit" >/dev/null || true
		if deb-systemd-helper --quiet was-enabled "$unit"; then
			deb-systemd-helper enable "$unit" >/dev/null || true
		else
			deb-systemd-helper update-state "$unit" >/dev/null || true
		fi
	done
}`,
  mask: `mask_units() {
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		for unit in ${UNITS.join(" ")}; do
			deb-systemd-helper mask "$unit" >/dev/null || true
		done
	fi
}`,
  purge: `purge_units() {
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		for unit in ${UNITS.join(" ")}; do
			deb-systemd-helper purge "$unit" >/dev/null || true
			deb-systemd-helper unmask "$unit" >/dev/null || true
		done
	fi
}`,
};

/** The units for rpm: enabled on first installation (not by preset, which Fedora's default
 * policy would leave disabled), disabled on erase; nothing where systemctl is not. */
const rpmUnits = {
  enable: `enable_units() {
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload enable ${UNITS.join(" ")} >/dev/null 2>&1 || true
	fi
}`,
  disable: `disable_units() {
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload disable ${UNITS.join(" ")} >/dev/null 2>&1 || true
	fi
}`,
};

/**
 * The module index watch starts at once where systemd runs (the other units do their work
 * at boot): a driver installed right after the package is noticed too.
 */
const debStartWatch = `start_module_watch() {
	if [ -d /run/systemd/system ]; then
		deb-systemd-invoke start ${MOVES_PATH} >/dev/null || true
	fi
}`;
const rpmStartWatch = `start_module_watch() {
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl start ${MOVES_PATH} >/dev/null 2>&1 || true
	fi
}`;

function script(functions, body) {
  return ["#!/bin/sh", "set -e", "", ...functions.flatMap((f) => [f, ""]), body, ""].join("\n");
}

/** postinst, prerm and postrm for the .deb, by file name. */
export function debianMaintainerScripts() {
  return {
    postinst: script(
      [reloadUdevRules, regenerateRules, debUnits.enable, debStartWatch],
      `case "$1" in
configure | abort-upgrade | abort-deconfigure | abort-remove)
	enable_units
	regenerate_rules
	reload_udev_rules
	start_module_watch
	;;
triggered)
	regenerate_rules
	;;
esac

exit 0`,
    ),
    prerm: script(
      [releaseHeldDevices, noticeBoundDevices],
      `case "$1" in
remove)
	release_held_devices
	notice_bound_devices
	;;
esac

exit 0`,
    ),
    postrm: script(
      [reloadUdevRules, removeGeneratedRules, debRebuildInitramfs, debUnits.mask, debUnits.purge],
      `case "$1" in
remove)
	mask_units
	remove_generated_rules
	reload_udev_rules
	rebuild_initramfs
	;;
purge)
	purge_units
	remove_generated_rules
	reload_udev_rules
	;;
esac

exit 0`,
    ),
  };
}

/** %post, %preun and %postun bodies for the spec. rpm passes the number of versions left
 * installed afterwards: 0 means the package is being erased, not upgraded. */
export function rpmScriptlets() {
  const body = (functions, main) => [...functions.flatMap((f) => [f, ""]), main].join("\n");
  return {
    post: body(
      [reloadUdevRules, regenerateRules, rpmUnits.enable, rpmStartWatch],
      `if [ "$1" -eq 1 ]; then\n\tenable_units\nfi\nregenerate_rules\nreload_udev_rules\nstart_module_watch`,
    ),
    preun: body(
      [releaseHeldDevices, noticeBoundDevices, rpmUnits.disable],
      `if [ "$1" -eq 0 ]; then\n\trelease_held_devices\n\tnotice_bound_devices\n\tdisable_units\nfi`,
    ),
    // %transfiletriggerin and %transfiletriggerpostun on MODULE_TRIGGER_PATHS: once per transaction.
    moduleTrigger: body([regenerateRules], "regenerate_rules"),
    postun: body(
      [reloadUdevRules, removeGeneratedRules, rpmRebuildInitramfs],
      `if [ "$1" -eq 0 ]; then\n\tremove_generated_rules\n\treload_udev_rules\n\trebuild_initramfs\nelse\n\treload_udev_rules\nfi`,
    ),
  };
}
