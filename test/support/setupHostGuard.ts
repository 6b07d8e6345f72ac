/**
 * Loads the host write guard (hostWriteGuard.cjs) into each test worker before any test, and
 * hands it to every Node child a test starts through NODE_OPTIONS.
 */
import { createRequire } from "node:module";
import { HOST_WRITE_GUARD, TEST_GUARD } from "./hostGuard.js";

const guard = createRequire(__filename)(HOST_WRITE_GUARD) as { guardSockets(): void };
guard.guardSockets();
process.env["NODE_OPTIONS"] = TEST_GUARD.NODE_OPTIONS;
