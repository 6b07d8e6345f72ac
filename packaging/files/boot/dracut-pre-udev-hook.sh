#!/bin/sh
# vfio-autobind's pre-udev hook (dracut sources it): holds the claimed PCI devices before
# udevd starts. Run in a shell of its own, so that its exit never ends dracut's hook runner.
if [ -f /etc/vfio-autobind/generated/hold-claimed.sh ]; then
	/bin/sh /etc/vfio-autobind/generated/hold-claimed.sh || :
fi
