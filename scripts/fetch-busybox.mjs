// Unpacks busybox for the tests (scripts/testShells.mjs) from Debian's package, downloaded
// with apt-get; already there, it is kept. Unpacked beside its place and moved in whole.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TEST_BUSYBOX } from "./testShells.mjs";

if (!existsSync(TEST_BUSYBOX)) {
  const work = mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-busybox-"));
  try {
    // apt-get downloads as its own user, _apt, which must be able to write here.
    chmodSync(work, 0o777);
    execFileSync("apt-get", ["download", "-qq", "busybox"], { cwd: work, stdio: ["ignore", "ignore", "inherit"] });
    const deb = readdirSync(work).find((file) => file.startsWith("busybox_") && file.endsWith(".deb"));
    if (deb === undefined) throw new Error("apt-get download busybox left no busybox_*.deb");
    execFileSync("dpkg-deb", ["-x", deb, "root"], { cwd: work });
    mkdirSync(path.dirname(TEST_BUSYBOX), { recursive: true });
    copyFileSync(path.join(work, "root", "bin", "busybox"), `${TEST_BUSYBOX}.new`);
    renameSync(`${TEST_BUSYBOX}.new`, TEST_BUSYBOX);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
console.log(`busybox for tests: ${TEST_BUSYBOX}`);
