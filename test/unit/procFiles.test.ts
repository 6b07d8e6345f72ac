/** A file's identity as procFiles.ts reads it: stat's device split as maps prints it, and device nodes by the device they open. */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileIdOf, isSameFile } from "../../src/sysfs/procFiles.js";
import { mapsIdOf } from "../../support/fakeProc.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-procfiles-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("fileIdOf", () => {
  it("splits the device number as stat(1) does, and takes the inode", () => {
    for (const file of ["/", os.tmpdir(), "/etc/passwd", "/dev/null"]) {
      const id = fileIdOf(file);
      const hex = (n: number): string => n.toString(16).padStart(2, "0");
      expect(`${hex(id?.major ?? -1)}:${hex(id?.minor ?? -1)} ${id?.ino}`, file).toBe(mapsIdOf(file));
    }
  });

  it("is null for a file that is not there", () => {
    expect(fileIdOf(path.join(dir, "missing"))).toBeNull();
  });

  it("tells two regular files apart, and knows a file as itself through a symlink", () => {
    fs.writeFileSync(path.join(dir, "a"), "");
    fs.writeFileSync(path.join(dir, "b"), "");
    fs.symlinkSync(path.join(dir, "a"), path.join(dir, "link"));
    const [a, b, link] = ["a", "b", "link"].map((name) => fileIdOf(path.join(dir, name)));
    expect(a?.rdev).toBeNull();
    expect(isSameFile(a!, b!)).toBe(false);
    expect(isSameFile(link!, a!)).toBe(true);
  });

  // mknod(1) of a character device needs root (CAP_MKNOD).
  const canMknod =
    process.getuid?.() === 0 &&
    spawnSync("mknod", [path.join(os.tmpdir(), `mknod-probe-${process.pid}`), "c", "1", "3"]).status === 0;
  if (canMknod) fs.rmSync(path.join(os.tmpdir(), `mknod-probe-${process.pid}`));
  it.skipIf(!canMknod)(
    "takes two nodes of one character device as one file, and another device's node as another",
    () => {
      execFileSync("mknod", [path.join(dir, "host-node"), "c", "511", "2"]);
      execFileSync("mknod", [path.join(dir, "container-node"), "c", "511", "2"]);
      execFileSync("mknod", [path.join(dir, "other"), "c", "511", "3"]);
      const [host, container, other] = ["host-node", "container-node", "other"].map((n) => fileIdOf(path.join(dir, n)));
      expect(host?.ino).not.toBe(container?.ino);
      expect(isSameFile(container!, host!)).toBe(true);
      expect(isSameFile(other!, host!)).toBe(false);
    },
  );
});
