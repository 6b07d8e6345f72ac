/**
 * The boot suite boots a disk once more only when the kernel panicked before anything ran
 * from the initramfs (test/vm/boot/host/bootQemu.ts): a later panic may have changed the disk.
 */
import { describe, expect, it } from "vitest";
import { panickedBeforeInit } from "../vm/boot/host/bootQemu.js";

const EARLY = [
  "Probing EDD (edd=off to disable)... ok",
  "[    0.036000] Kernel panic - not syncing: timer doesn't work through Interrupt-remapped IO-APIC",
].join("\n");

describe("panickedBeforeInit", () => {
  it("is true for a panic before the initramfs printed anything", () => {
    expect(panickedBeforeInit(EARLY)).toBe(true);
  });

  it("is false after initramfs-tools, dracut or systemd started, and without a panic", () => {
    expect(panickedBeforeInit(`Loading, please wait...\nBegin: Loading essential drivers ... done.\n${EARLY}`)).toBe(
      false,
    );
    expect(panickedBeforeInit(`[    1.5] dracut: dracut-106\n${EARLY}`)).toBe(false);
    expect(panickedBeforeInit(`[  OK  ] Started systemd-udevd.service\n${EARLY}`)).toBe(false);
    expect(panickedBeforeInit("Loading, please wait...\n")).toBe(false);
  });
});
