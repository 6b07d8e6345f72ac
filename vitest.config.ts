import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests that start the bundle many times share two cores; give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
