/**
 * The tests keep this machine out of reach (test/support/hostWriteGuard.cjs): in this worker
 * and in every bundle a test starts, whatever env the test passes, a write to the host's own
 * paths throws before anything happens; runCliInProcess refuses to run without the guard;
 * and neither way runs bind or release against the real /sys.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { hostWriteGuardLoaded } from "../support/hostGuard.js";
import { runBundle } from "../support/runBundle.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

const noKernel = {
  kernelIo: () => ({
    writeAttribute: () => expect.unreachable("no sysfs write"),
    loadModule: () => Promise.reject(new Error("no modprobe")),
  }),
};

describe("the host write guard", () => {
  it("refuses every way to write the host's own paths, and lets temporary trees be", async () => {
    expect(hostWriteGuardLoaded()).toBe(true);
    const host = [
      "/etc/vfio-autobind/50-x.conf",
      "/sys/bus/pci/drivers_probe",
      "/run/vfio-autobind/locks",
      "/dev/../dev/kmsg",
    ];
    for (const file of host) {
      expect(() => fs.writeFileSync(file, "x"), file).toThrow(/test guard: refusing to write/);
      expect(() => fs.openSync(file, fs.constants.O_WRONLY), file).toThrow(/test guard: refusing to open for writing/);
      expect(() => fs.openSync(file, "a"), file).toThrow(/test guard/);
      expect(() => fs.mkdirSync(file, { recursive: true }), file).toThrow(/test guard/);
      expect(() => fs.rmSync(file, { force: true }), file).toThrow(/test guard/);
      expect(() => fs.renameSync(path.join(os.tmpdir(), "vfio-autobind-guard-none"), file), file).toThrow(/test guard/);
      expect(() => fs.symlinkSync("/tmp", file), file).toThrow(/test guard/);
      await expect(fs.promises.writeFile(file, "x"), file).rejects.toThrow(/test guard/);
    }
    expect(() => net.connect({ path: "/run/systemd/journal/stdout" })).toThrow(/test guard: refusing to connect/);
    // Reading is left alone (list and explain read the real /sys), and so is /dev/null.
    expect(fs.openSync("/proc/self/status", "r")).toBeGreaterThan(2);
    fs.writeFileSync("/dev/null", "x");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-guard-"));
    fs.writeFileSync(path.join(dir, "50-x.conf"), "x");
    fs.rmSync(dir, { recursive: true });
  });

  it("is loaded in the bundle's process even when a test's env clears NODE_OPTIONS", async () => {
    // node -e ignores the script path runBundle adds, so this shows what the bundle would meet.
    const seen = await runBundle([], {
      node: [
        "-e",
        'try { require("node:fs").writeFileSync("/etc/vfio-autobind-guard-test", "x") } catch (e) { process.stdout.write(e.message) }',
      ],
      env: { NODE_OPTIONS: "" },
    });
    expect(seen).toMatchObject({
      exitCode: 0,
      stdout: "test guard: refusing to write /etc/vfio-autobind-guard-test, a path of the host itself",
    });
  });
});

describe("the CLI runners", () => {
  it.each([
    ["without a sysfs root", ["bind", "0000:00:03.0"], /without --sysfs-root pointing at a fake tree/],
    [
      "with the real /sys",
      ["release", "0000:00:03.0", "--sysfs-root", "/sys"],
      /refusing to use \/sys as a fake sysfs root/,
    ],
  ])("neither runs bind or release %s", async (_, args, refusal) => {
    await expect(runBundle(args)).rejects.toThrow(refusal);
    await expect(runCliInProcess(args, noKernel)).rejects.toThrow(refusal);
  });
});
