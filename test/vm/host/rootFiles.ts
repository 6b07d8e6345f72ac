/** Writing files into a guest root or overlay directory. */
import * as fs from "node:fs";
import * as path from "node:path";

/** Writes a file into a root, creating its directories 0755 (the kernel applies cpio directory modes to existing directories too). */
export function writeFile(root: string, relative: string, content: string | Uint8Array, mode: number): void {
  const file = path.join(root, relative);
  mkdirs(root, path.dirname(relative));
  fs.writeFileSync(file, content);
  fs.chmodSync(file, mode);
}

function mkdirs(root: string, relative: string): void {
  let current = root;
  for (const part of relative.split("/").filter(Boolean)) {
    current = path.join(current, part);
    if (!fs.existsSync(current)) fs.mkdirSync(current, { mode: 0o755 });
  }
}
