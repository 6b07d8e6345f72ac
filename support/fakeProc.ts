/** A /proc for tests: the files the tool reads to see what the host itself uses, saying "nothing". */
import * as fs from "node:fs";
import * as path from "node:path";

export function writeFakeProc(procRoot: string): void {
  fs.mkdirSync(path.join(procRoot, "self"), { recursive: true });
  fs.writeFileSync(path.join(procRoot, "self", "mountinfo"), "");
  fs.writeFileSync(path.join(procRoot, "swaps"), "Filename\tType\tSize\tUsed\tPriority\n");
}
