#!/bin/sh
# vfio-autobind: runs the bundled program the way udev runs it.
# --jitless: systemd-udevd's sandbox (MemoryDenyWriteExecute) forbids V8's JIT, and what an
# admin runs by hand should behave as what udev runs. Only flags every Node major takes
# (packaging/layout.mjs, NODE_FLAGS).
exec /usr/bin/node --jitless /usr/lib/vfio-autobind/vfio-autobind.js "$@"
