#!/bin/sh
# vfio-autobind: runs the bundled program the way udev runs it.
# --jitless: systemd-udevd's sandbox (MemoryDenyWriteExecute) forbids V8's JIT, and what an
# admin runs by hand should behave as what udev runs. --no-expose-wasm: WebAssembly needs
# the JIT; saying so spares a warning from Node 20 on every run (Node 18 accepts it too).
exec /usr/bin/node --jitless --no-expose-wasm /usr/lib/vfio-autobind/vfio-autobind.js "$@"
