import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

export default defineConfig({
  // The version build.mjs gives the bundle: code run from source writes the same rules header.
  define: { __VFIO_AUTOBIND_VERSION__: JSON.stringify(version) },
  test: {
    include: ["test/**/*.test.ts"],
    // The QEMU suite boots a real kernel and has its own config: npm run test:vm.
    exclude: ["test/vm/**", "**/node_modules/**"],
    // Tests that start the bundle many times share two cores; give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Every write to /sys, /etc, /run, /boot... throws under test, in the workers and in the
    // bundles the tests start (test/support/hostWriteGuard.cjs).
    setupFiles: ["test/support/setupHostGuard.ts"],
  },
});
