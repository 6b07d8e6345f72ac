/** A /proc for tests: the files the tool reads to see what the host itself uses, saying "nothing". */
import * as fs from "node:fs";
import * as path from "node:path";

export function writeFakeProc(procRoot: string): void {
  fs.mkdirSync(path.join(procRoot, "self"), { recursive: true });
  fs.writeFileSync(path.join(procRoot, "self", "mountinfo"), "");
  fs.writeFileSync(path.join(procRoot, "swaps"), "Filename\tType\tSize\tUsed\tPriority\n");
}

/** Adds a mount of the block device `majorMinor` (`259:1`) from `source` on `mountPoint` to the fake mountinfo. */
export function addFakeMount(
  procRoot: string,
  mount: { majorMinor: string; source: string; mountPoint: string },
): void {
  const id = fs.readFileSync(path.join(procRoot, "self", "mountinfo"), "utf8").split("\n").length + 20;
  fs.appendFileSync(
    path.join(procRoot, "self", "mountinfo"),
    `${id} 1 ${mount.majorMinor} / ${mount.mountPoint} rw,relatime shared:1 - ext4 ${mount.source} rw\n`,
  );
}
