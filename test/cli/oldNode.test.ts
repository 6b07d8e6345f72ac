/**
 * On a Node older than the bundle needs (RHEL 9's default stream is 16), both the CLI and
 * the udev helper refuse with one line, on stderr and in the journal, before loading
 * anything else. The bundle is made to see an old version by a preload; a real Node 16
 * gives the same line (checked by hand: the bundle parses and refuses there).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MINIMUM_NODE, nodeVersionRefusal } from "../../src/start/nodeVersion.js";
import { startFakeJournal, type FakeJournal } from "../../support/fakeJournal.js";
import { runBundle, runHelperBundle } from "../support/runBundle.js";
import { WRAPPER_FLAGS } from "../support/testNodes.js";

const FAKE_OLD_NODE = path.resolve(__dirname, "../support/fake-old-node.cjs");
const tooOld = (version: string) =>
  `Node.js ${version} at ${process.execPath} is too old: vfio-autobind needs Node.js 18.19 or later`;

describe("nodeVersionRefusal", () => {
  it.each(["16.20.2", "v16.20.2", "18.0.0", "18.18.2", "14.21.3", "garbage", ""])("refuses %j", (version) => {
    expect(nodeVersionRefusal(version, "/usr/bin/node")).toBe(
      `Node.js ${version} at /usr/bin/node is too old: vfio-autobind needs Node.js 18.19 or later`,
    );
  });

  it.each(["18.19.0", "18.20.8", "20.11.1", "22.0.0", "v24.1.0"])("accepts %j", (version) => {
    expect(nodeVersionRefusal(version)).toBeNull();
  });

  it("needs what package.json's engines field says", () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8"));
    expect(pkg.engines.node).toBe(`>=${MINIMUM_NODE.major}.${MINIMUM_NODE.minor}`);
  });
});

describe("the bundle on an old Node", () => {
  let journal: FakeJournal;
  beforeEach(async () => {
    journal = await startFakeJournal();
  });
  afterEach(async () => {
    await journal.close();
  });

  it("the CLI refuses with one line and exit 1", async () => {
    const result = await runBundle(["list", "--sysfs-root", "/nonexistent"], {
      node: [...WRAPPER_FLAGS, "-r", FAKE_OLD_NODE],
    });
    expect(result).toMatchObject({ exitCode: 1, stdout: "", stderr: `vfio-autobind: ${tooOld("16.20.2")}` });
  });

  it("the udev helper refuses with one line on stderr and in the journal", async () => {
    const result = await runHelperBundle(["--kmsg", journal.kmsg, "--journal-socket", journal.socket], {
      node: [...WRAPPER_FLAGS, "-r", FAKE_OLD_NODE],
      env: { FAKE_NODE_VERSION: "18.18.2", ACTION: "add", SUBSYSTEM: "pci", PCI_SLOT_NAME: "0000:00:03.0" },
    });
    expect(result).toMatchObject({ exitCode: 1, stdout: "", stderr: `vfio-autobind: ${tooOld("18.18.2")}` });
    await expect
      .poll(() => journal.entries)
      .toEqual([
        {
          identifier: "vfio-autobind",
          priority: 3,
          message: tooOld("18.18.2"),
          transport: "kernel",
          pid: expect.any(Number),
        },
      ]);
  });

  it("runs as usual on the minimum version", async () => {
    const result = await runBundle(["--version"], {
      node: [...WRAPPER_FLAGS, "-r", FAKE_OLD_NODE],
      env: { FAKE_NODE_VERSION: "18.19.0" },
    });
    expect(result.exitCode).toBe(0);
  });
});
