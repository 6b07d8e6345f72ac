import { describe, expect, it } from "vitest";
import { ensureSystemPath, SYSTEM_PATH } from "../../src/helper/handleAddEvent.js";

describe("ensureSystemPath", () => {
  it("gives a RUN program, which udevd starts without PATH, the system's", () => {
    const udevEnvironment: NodeJS.ProcessEnv = { ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: "0000:00:03.0" };
    ensureSystemPath(udevEnvironment);
    expect(udevEnvironment["PATH"]).toBe(SYSTEM_PATH);
    expect(SYSTEM_PATH.split(":")).toContain("/usr/sbin"); // modprobe
  });

  it("keeps a PATH that is already set", () => {
    const shell: NodeJS.ProcessEnv = { PATH: "/opt/kmod/bin:/usr/bin" };
    ensureSystemPath(shell);
    expect(shell["PATH"]).toBe("/opt/kmod/bin:/usr/bin");
  });
});
