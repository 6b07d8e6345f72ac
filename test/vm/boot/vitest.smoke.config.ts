/**
 * The boot part of `npm run test:smoke`: the image builds and the two smoke boots
 * (host/bootSmokeSetup.ts), asserted by the test files of those boots.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    include: [
      "test/vm/boot/imageBuild.test.ts",
      "test/vm/boot/initramfsHold.test.ts",
      "test/vm/boot/dracutHold.test.ts",
    ],
    globalSetup: ["test/vm/boot/host/bootSmokeSetup.ts"],
    hookTimeout: 45 * 60_000,
    testTimeout: 60_000,
  },
});
