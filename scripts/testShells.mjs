// The busybox the tests run the hold script with beside dash (initramfs images run it with
// either): the binary alone, unpacked from Debian's package by scripts/fetch-busybox.mjs,
// never installed (the package's initramfs trigger would rebuild this machine's initramfs).
import path from "node:path";
import { fileURLToPath } from "node:url";

export const TEST_BUSYBOX = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../node_modules/.cache/busybox/busybox",
);
