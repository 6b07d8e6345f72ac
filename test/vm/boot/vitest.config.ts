/**
 * `npm run test:boot`: the boot-hold scenarios on Debian's kernel, booted the Debian way
 * (host/bootSetup.ts boots every scenario's disk once); the test files then assert on the
 * report. Under the main config (`npm test`) test/vm/ is excluded, and the VM suite's config
 * excludes this directory.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    include: ["test/vm/boot/**/*.test.ts"],
    globalSetup: ["test/vm/boot/host/bootSetup.ts"],
    // mmdebstrap, dracut and about eight TCG boots.
    hookTimeout: 45 * 60_000,
    testTimeout: 60_000,
  },
});
