/**
 * Node's builtins that only some runs need, loaded on first use. Under `node --jitless` Node
 * compiles its own modules from source in every process (V8 rejects Node's code cache
 * without the JIT), and most udev events need none of these: `net` with the stream modules
 * (about 6 ms) only for the journal's socket, `child_process` only for modprobe or flock(1)
 * (the lock), `crypto` only for a command that prints the claims' digest.
 *
 * Always `require()`, never `import()`: from the bundle's CommonJS, `import()` of a builtin
 * stays an `import()` and loads Node's ES module loader too (test/bundle/udevHelperBundle.test.ts
 * holds the helper's bundle to that).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy on purpose, see above */
import type * as ChildProcess from "node:child_process";
import type * as Crypto from "node:crypto";
import type * as Net from "node:net";

export function loadNet(): typeof Net {
  return require("node:net") as typeof Net;
}

export function loadChildProcess(): typeof ChildProcess {
  return require("node:child_process") as typeof ChildProcess;
}

export function loadCrypto(): typeof Crypto {
  return require("node:crypto") as typeof Crypto;
}
