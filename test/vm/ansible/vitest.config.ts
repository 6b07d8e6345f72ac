/**
 * `npm run test:fleet`: the Ansible role (contrib/ansible/roles/vfio_autobind) run by
 * Debian's ansible-playbook into an image build and against a booted guest over SSH, and
 * ansible-lint on it.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    include: ["test/vm/ansible/**/*.test.ts"],
    // One guest or chroot at a time: two cores, and TCG takes both.
    fileParallelism: false,
    // mmdebstrap of the fleet root on a cold cache, then Ansible runs.
    hookTimeout: 30 * 60_000,
    testTimeout: 10 * 60_000,
  },
});
