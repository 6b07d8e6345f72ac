/**
 * Packs a directory as a newc cpio archive, the kernel's initramfs format. Uncompressed on
 * purpose: gzip costs more time on the host than it saves, and unpacking it under TCG is
 * slow. Archives concatenate: the kernel unpacks them in order, later files replacing
 * earlier ones, which is how the small per-run overlay lands on the cached base root.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";

export async function packCpio(dir: string, output: string): Promise<void> {
  const list = `${output}.list`;
  await withFile(list, "w", (listOut) => runWithFds("find", [".", "-print0"], dir, "ignore", listOut));
  await withFile(list, "r", (listIn) =>
    withFile(output, "w", (archive) =>
      runWithFds("cpio", ["--null", "--create", "--format=newc", "--quiet"], dir, listIn, archive),
    ),
  );
  fs.rmSync(list);
}

async function withFile<T>(file: string, flags: string, use: (fd: number) => Promise<T>): Promise<T> {
  const fd = fs.openSync(file, flags);
  try {
    return await use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The child reads and writes the files' descriptors itself, so the archive (hundreds of
 * MB) never passes through this process, as it would through execa's { file } targets.
 */
function runWithFds(
  file: string,
  args: readonly string[],
  cwd: string,
  stdin: number | "ignore",
  stdout: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, stdio: [stdin, stdout, "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${[file, ...args].join(" ")} failed (exit ${code})\n${stderr}`)),
    );
  });
}
