#!/bin/sh
# vfio-autobind's initqueue/timeout hook (dracut sources it once the initqueue has waited
# two thirds of rd.retry for the root device): a claim may select the controller the root
# is on, so every held storage controller goes to the kernel. A held device has no driver,
# and a root that never appears is a machine that does not boot.
if [ -f @HOLD_SCRIPT@ ]; then
	/bin/sh @HOLD_SCRIPT@ release-storage || :
fi
