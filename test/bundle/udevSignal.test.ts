/**
 * udevd ends a RUN program that outlives its event timeout with SIGTERM. The built bundle,
 * run as the packaged rule runs it, is sent SIGTERM while it waits on a modprobe that never
 * returns: it must clear the hold the rules wrote, ask the kernel to probe the device, say so
 * in its one journal line, and exit. On a fake tree the kernel's side is plain files: the
 * override file's first line and what drivers_probe was sent.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { cliRootArgs } from "../../support/cliRoots.js";
import { startFakeJournal, type FakeJournal } from "../../support/fakeJournal.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { makeModulesDir, mainlineVariantsAlias } from "../../support/fixtures.js";
import { TEST_GUARD } from "../support/hostGuard.js";
import { assertBundleBuilt, HELPER_BUNDLE, withoutNodeNotices } from "../support/runBundle.js";
import { RULE_FLAGS } from "../support/testNodes.js";

const DEVICE = "0000:00:05.0";

let sys: FakeSysfs;
let modulesDir: string;
let work: string;
let journal: FakeJournal;

beforeEach(async () => {
  sys = FakeSysfs.create();
  sys.addDevice({
    address: DEVICE,
    vendor: "1af4",
    device: "1042",
    subsystemDevice: "1100",
    classCode: "010000",
    iommuGroup: 5,
    driverOverride: HOLD_OVERRIDE,
  });
  modulesDir = makeModulesDir({ "modules.alias": mainlineVariantsAlias() });
  work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-signal-")));
  fs.mkdirSync(path.join(work, "config"));
  fs.writeFileSync(path.join(work, "config", "50-blk.conf"), `[Claim]\nAddress=${DEVICE}\n`);
  // A modprobe stuck in the kernel: it says it started (and its pid, to be ended afterwards), then waits.
  fs.mkdirSync(path.join(work, "bin"));
  fs.writeFileSync(
    path.join(work, "bin", "modprobe"),
    `#!/bin/sh\necho $$ > '${path.join(work, "modprobe-started")}'\nexec sleep 30\n`,
    { mode: 0o755 },
  );
  journal = await startFakeJournal();
});

afterEach(async () => {
  const started = path.join(work, "modprobe-started");
  if (fs.existsSync(started)) {
    try {
      process.kill(Number(fs.readFileSync(started, "utf8").trim()), "SIGKILL");
    } catch {
      // already gone
    }
  }
  sys.remove();
  fs.rmSync(modulesDir, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  await journal.close();
});

async function waitFor(file: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > end) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the udev helper, sent SIGTERM while a module load hangs", () => {
  it("clears the hold, asks the kernel to probe, says so in one line, and exits", async () => {
    assertBundleBuilt();
    const roots = cliRootArgs({
      sysfsRoot: sys.root,
      modulesDir,
      stateDir: path.join(work, "state"),
      procRoot: path.join(work, "proc"),
      devRoot: path.join(work, "dev"),
      configDir: path.join(work, "config"),
      modprobeRoot: work,
      kmsg: journal.kmsg,
      journalSocket: journal.socket,
    });
    const helper = execa(process.execPath, [...RULE_FLAGS, HELPER_BUNDLE, ...roots], {
      reject: false,
      extendEnv: false,
      env: {
        ACTION: "add",
        SUBSYSTEM: "pci",
        PCI_SLOT_NAME: DEVICE,
        DEVPATH: `/devices/pci0000:00/${DEVICE}`,
        VFIO_AUTOBIND_CLAIM: "50-blk.conf:1",
        PATH: `${path.join(work, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin`,
        ...TEST_GUARD,
      },
    });
    await waitFor(path.join(work, "modprobe-started"), 30_000);
    helper.kill("SIGTERM");
    const result = await helper;

    expect({ exitCode: result.exitCode, stderr: withoutNodeNotices(result.stderr) }).toEqual({
      exitCode: 1,
      stderr: "",
    });
    // "\n" written over the hold: the kernel would clear it; the file's first line is now empty.
    const override = fs.readFileSync(path.join(sys.deviceDir(DEVICE), "driver_override"), "utf8");
    expect(override.split("\n")[0]).toBe("");
    expect(fs.readFileSync(sys.at("bus/pci/drivers_probe"), "utf8")).toBe(DEVICE);
    expect(journal.entries.map((entry) => [entry.priority, entry.message])).toEqual([
      [3, `${DEVICE}: stopped by SIGTERM before it was handled; cleared the hold, no driver took it`],
    ]);
  });
});
