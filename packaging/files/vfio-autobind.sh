#!/bin/sh
# vfio-autobind: runs the bundled program the way udev runs it (packaging/layout.mjs).
# --jitless (NODE_FLAGS): systemd-udevd's sandbox (MemoryDenyWriteExecute) forbids V8's JIT,
# and what an admin runs by hand should behave as what udev runs.
# --no-expose-wasm (QUIET_NODE_FLAGS) silences the "Warning: disabling flag --expose_wasm"
# that V8 in Node 18 to 22 prints under --jitless, and changes nothing else (--jitless has no
# WebAssembly anyway). It is V8's, not a Node option, and Node 24 refuses it and does not
# start, so it is given only when this node accepts it: node checks every flag before it
# handles --version, which exits before V8 starts (about 15 ms). Asked at each run rather
# than at install time, so a Node upgrade cannot leave a flag that stops the command.
# Filtering stderr instead would make it a pipe and lose node's exit status in sh.
quiet=
if /usr/bin/node --jitless --no-expose-wasm --version >/dev/null 2>&1; then quiet="--no-expose-wasm"; fi
exec /usr/bin/node --jitless $quiet /usr/lib/vfio-autobind/vfio-autobind.js "$@"
