/**
 * `npm run test:smoke`: the smoke part of the VM suite (shared/smoke.ts), one boot, on the
 * release VFIO_AUTOBIND_RELEASE names (bookworm by default).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { SMOKE_TEST_FILES } from "./shared/smoke.js";

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: SMOKE_TEST_FILES.map((file) => `test/vm/${file}`),
    globalSetup: ["test/vm/host/smokeSetup.ts"],
    hookTimeout: 30 * 60_000,
    testTimeout: 60_000,
  },
});
