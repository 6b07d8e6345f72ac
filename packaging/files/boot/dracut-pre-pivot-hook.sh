#!/bin/sh
# vfio-autobind's pre-pivot hook (dracut sources it, with the real root mounted at
# $NEWROOT): lets go of every hold that the real root's claims no longer stand behind. Its
# hold script is written by every claim, unclaim and apply, so it is the current truth; with
# none there (the package removed, its claims gone), every hold goes. Run in a shell of its
# own, so that its exit never ends dracut's hook runner.
if [ -f @HOLD_SCRIPT@ ]; then
	if [ -f "${NEWROOT:-/sysroot}@HOLD_SCRIPT@" ]; then
		/bin/sh "${NEWROOT:-/sysroot}@HOLD_SCRIPT@" release-stale || :
	else
		/bin/sh @HOLD_SCRIPT@ release-all || :
	fi
fi
