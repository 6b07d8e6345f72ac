#!/bin/sh
# vfio-autobind's dracut module: holds the claimed PCI devices from a pre-udev hook, before
# udevd starts and the coldplug loads host drivers for them. Written in POSIX sh (dracut
# sources it in bash).
#
# As read in dracut 059 (dracut-init.sh, modules.d/98dracut-systemd):
# - check(): 0 includes the module in every build, host-only or generic; 255 includes it
#   only when asked for (--add vfio-autobind). So: 0 when claims exist.
# - install() runs with $initdir (the image tree), $kernel (the kernel release) and
#   $moddir (this directory). inst_hook pre-udev NN FILE installs FILE as
#   /lib/dracut/hooks/pre-udev/NN-FILE, which dracut-pre-udev.service
#   (Before=systemd-udevd.service) or the non-systemd init sources before udevd starts.
# - The initqueue sources hooks/initqueue/timeout/* once it has waited two thirds of
#   rd.retry (180 s by default) for what it waits on, the root device among it; systemd's
#   job for the root device has no timeout of its own (rootfs-generator.sh: rd.timeout,
#   0 by default). pre-pivot hooks run with the real root mounted at $NEWROOT.
# - A systemd initramfs loads virtio_pci itself before any hook runs: virtio devices are
#   driven by then, and the hold script leaves driven devices alone.

# dracut's PATH may lack /usr/sbin, where the command is.
vfio_autobind() {
	PATH="$PATH:/usr/sbin:/sbin" vfio-autobind "$@"
}

check() {
	claims=$(vfio_autobind hold-script --count-claims 2>/dev/null) || return 255
	case "$claims" in
	"" | *[!0-9]*) return 255 ;;
	esac
	[ "$claims" -gt 0 ] && return 0
	return 255
}

depends() {
	return 0
}

install() {
	# Generated now, from the claims in /etc/vfio-autobind; the digest is recorded for
	# $kernel so that "vfio-autobind status" can tell when this image is stale. A failure
	# leaves the image without holds, as without vfio-autobind, and is said.
	if ! vfio_autobind hold-script --output "${initdir}@HOLD_SCRIPT@" --stamp "${kernel}"; then
		dwarn "vfio-autobind: no device holds in this initramfs; fix the claims (vfio-autobind check), then run: dracut -f --kver ${kernel}"
		return 0
	fi
	inst_hook pre-udev 00 "${moddir}/vfio-autobind-hold.sh"
	# The root device is late: held storage controllers go to the kernel.
	inst_hook initqueue/timeout 00 "${moddir}/vfio-autobind-timeout.sh"
	# Holds the real root's claims no longer stand behind go before switch_root.
	inst_hook pre-pivot 00 "${moddir}/vfio-autobind-pre-pivot.sh"
}
