// Writes one package's files into a directory tree with their modes, the way they will sit
// on the installed system; both builders package such a tree.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * @param {string} root
 * @param {import("./layout.mjs").InstalledFile[]} files
 * @param {(file: import("./layout.mjs").InstalledFile) => Buffer} contentOf
 */
export function stageTree(root, files, contentOf) {
  for (const file of files) {
    const target = path.join(root, file.path);
    makeDirs(root, path.posix.dirname(file.path));
    writeFileSync(target, contentOf(file));
    // An explicit chmod: the umask of whoever builds must not decide the installed modes.
    chmodSync(target, file.mode);
  }
}

function makeDirs(root, dir) {
  if (dir === "/") return;
  makeDirs(root, path.posix.dirname(dir));
  mkdirSync(path.join(root, dir), { recursive: true });
  chmodSync(path.join(root, dir), 0o755);
}
