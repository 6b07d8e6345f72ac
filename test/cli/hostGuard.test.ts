/**
 * Both ways the tests run the CLI keep this machine out of reach: the tool's own test guard
 * stays on in the child whatever env a test passes, runCliInProcess refuses to run with it
 * off, and neither runs bind or release against the real /sys.
 */
import { afterEach, describe, expect, it } from "vitest";
import { TEST_GUARD_ENV } from "../../src/paths.js";
import { runBundle } from "../support/runBundle.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

const noKernel = {
  kernelIo: () => ({
    writeAttribute: () => expect.unreachable("no sysfs write"),
    loadModule: () => Promise.reject(new Error("no modprobe")),
  }),
};

describe("the host guard in the CLI runners", () => {
  const saved = process.env[TEST_GUARD_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[TEST_GUARD_ENV];
    else process.env[TEST_GUARD_ENV] = saved;
  });

  it("is on in the bundle's process even when a test's env turns it off", async () => {
    // node -e ignores the script path runBundle adds, so this prints what the bundle would see.
    const seen = await runBundle([], {
      node: ["-e", `process.stdout.write(String(process.env.${TEST_GUARD_ENV}))`],
      env: { [TEST_GUARD_ENV]: "0" },
    });
    expect(seen).toMatchObject({ exitCode: 0, stdout: "1" });
  });

  it("runCliInProcess refuses to run with the tool's guard off", async () => {
    process.env[TEST_GUARD_ENV] = "0";
    await expect(runCliInProcess(["--version"], noKernel)).rejects.toThrow(`${TEST_GUARD_ENV} is not 1`);
  });

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
