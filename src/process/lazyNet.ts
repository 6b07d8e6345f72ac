/**
 * `node:net`, loaded on first use. Under `node --jitless` Node compiles `net` and the stream
 * modules it brings from source in every process (V8 rejects Node's own code cache without
 * the JIT): about 6 ms, which a udev event that binds nothing and logs to the kernel log
 * never needs. The journal's socket and the device lock take it from here when they are
 * first used. `require`, not `import()`: in the bundle's CommonJS, `import()` of a builtin
 * also loads Node's ES module loader, a few ms more on every binding event.
 */
import type * as Net from "node:net";

export function loadNet(): typeof Net {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  return require("node:net") as typeof Net;
}
