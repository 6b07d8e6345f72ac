/**
 * `npm run test:vm`: one QEMU guest boot (host/globalSetup.ts) runs every scenario; the
 * test files then assert on what the guest reported. Under the main config (`npm test`)
 * these files find no report and skip.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Paths below are the repository's, as in the main config; without this they would be
  // taken from this file's directory.
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/vm/**/*.test.ts"],
    // The boot suite (npm run test:boot) and the Ansible role's (npm run test:fleet) have
    // their own configs and their own roots.
    exclude: ["test/vm/boot/**", "test/vm/ansible/**", "**/node_modules/**"],
    globalSetup: ["test/vm/host/globalSetup.ts"],
    // Downloads, mmdebstrap and a TCG boot; the guest itself is stopped after 10 minutes.
    hookTimeout: 30 * 60_000,
    testTimeout: 60_000,
  },
});
