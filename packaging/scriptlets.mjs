// What the packages do when they are installed, upgraded and removed, written once as POSIX
// sh and wrapped into Debian maintainer scripts and rpm scriptlets. Both do the same:
//
// - install, upgrade, removal: tell udevd to reload its rules (it would notice on its own
//   within a few seconds; this makes it immediate). Never `udevadm trigger`: replaying add
//   events would rebind claimed devices behind the admin's back.
// - removal: leave every device where it is (a VM may be using it) and say which devices
//   vfio-autobind had bound and how to give them back.
// - purge (rpm: erase): remove the udev rule `vfio-autobind apply` generated and the hold
//   script and initramfs stamps under /etc/vfio-autobind/generated. The claim files admins
//   wrote stay (package managers never delete files they did not install); the state under
//   /run goes away at the next boot by itself.
// - install: enable vfio-autobind-hold.service, which holds claimed devices before udev's
//   coldplug at every boot; removal disables it. None of them rebuilds an initramfs: that is
//   the admin's step (status names the command), as a package must not rewrite /boot.
import path from "node:path";
import { HOLD_UNIT, programFiles } from "./layout.mjs";

/** Reloads udev rules when udevd is running here; a chroot, a container or an installer
 * without udevd, or a missing udevadm, is not an error. */
const reloadUdevRules = `reload_udev_rules() {
	# /run/udev/control is udevd's socket: absent in a chroot or before udevd starts.
	if [ -S /run/udev/control ] && command -v udevadm >/dev/null 2>&1; then
		udevadm control --reload || true
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
	echo "  To give one back to its host driver, reinstall vfio-autobind and run" >&2
	echo "  'vfio-autobind release ADDRESS' ('vfio-autobind status' lists them), or reboot:" >&2
	echo "  with the package gone, nothing binds them at boot." >&2
}`;

/** Removes what the program generated from the claims. */
const removeGeneratedRules = `remove_generated_rules() {
	rm -f ${programFiles.claimsRule.path} ${programFiles.holdScript.path} ${programFiles.initramfsStamps.path}
	rmdir ${path.posix.dirname(programFiles.holdScript.path)} 2>/dev/null || true
}`;

/**
 * The hold unit, as dh_installsystemd's snippets handle a unit (deb-systemd-helper, from
 * init-system-helpers, which is Essential): enabled on installation, an admin's disable kept
 * across upgrades, masked while the package is removed, forgotten on purge. It works
 * without systemd running, in a chroot too.
 */
const debHoldUnit = {
  enable: `enable_hold_unit() {
	deb-systemd-helper unmask ${HOLD_UNIT} >/dev/null || true
	if deb-systemd-helper --quiet was-enabled ${HOLD_UNIT}; then
		deb-systemd-helper enable ${HOLD_UNIT} >/dev/null || true
	else
		deb-systemd-helper update-state ${HOLD_UNIT} >/dev/null || true
	fi
}`,
  mask: `mask_hold_unit() {
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper mask ${HOLD_UNIT} >/dev/null || true
	fi
}`,
  purge: `purge_hold_unit() {
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper purge ${HOLD_UNIT} >/dev/null || true
		deb-systemd-helper unmask ${HOLD_UNIT} >/dev/null || true
	fi
}`,
};

/** The hold unit for rpm: enabled on first installation (not by preset, which Fedora's
 * default policy would leave disabled), disabled on erase; nothing where systemctl is not. */
const rpmHoldUnit = {
  enable: `enable_hold_unit() {
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload enable ${HOLD_UNIT} >/dev/null 2>&1 || true
	fi
}`,
  disable: `disable_hold_unit() {
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload disable ${HOLD_UNIT} >/dev/null 2>&1 || true
	fi
}`,
};

function script(functions, body) {
  return ["#!/bin/sh", "set -e", "", ...functions.flatMap((f) => [f, ""]), body, ""].join("\n");
}

/** postinst, prerm and postrm for the .deb, by file name. */
export function debianMaintainerScripts() {
  return {
    postinst: script(
      [reloadUdevRules, debHoldUnit.enable],
      `case "$1" in
configure | abort-upgrade | abort-deconfigure | abort-remove)
	enable_hold_unit
	reload_udev_rules
	;;
esac

exit 0`,
    ),
    prerm: script(
      [noticeBoundDevices],
      `case "$1" in
remove)
	notice_bound_devices
	;;
esac

exit 0`,
    ),
    postrm: script(
      [reloadUdevRules, removeGeneratedRules, debHoldUnit.mask, debHoldUnit.purge],
      `case "$1" in
remove)
	mask_hold_unit
	reload_udev_rules
	;;
purge)
	purge_hold_unit
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
      [reloadUdevRules, rpmHoldUnit.enable],
      `if [ "$1" -eq 1 ]; then\n\tenable_hold_unit\nfi\nreload_udev_rules`,
    ),
    preun: body(
      [noticeBoundDevices, rpmHoldUnit.disable],
      `if [ "$1" -eq 0 ]; then\n\tnotice_bound_devices\n\tdisable_hold_unit\nfi`,
    ),
    postun: body(
      [reloadUdevRules, removeGeneratedRules],
      `if [ "$1" -eq 0 ]; then\n\tremove_generated_rules\nfi\nreload_udev_rules`,
    ),
  };
}
