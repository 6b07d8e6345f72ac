#!/bin/sh
# vfio-autobind's pre-udev hook (dracut sources it): holds the claimed PCI devices before
# udevd starts. Run in a shell of its own, so that its exit never ends dracut's hook runner.
if [ -f @HOLD_SCRIPT@ ]; then
	/bin/sh @HOLD_SCRIPT@ || :
fi
