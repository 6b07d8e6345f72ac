/**
 * Builds the fixture VFIO variant drivers (test/vm/fixtures) against the guest kernel's
 * headers with kbuild, in a copy of the sources so the repository stays clean.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CACHE_DIR, FIXTURES_DIR } from "./paths.js";
import { cachedDirectory, hashInputs, pruneSiblings } from "./cache.js";
import { run, say } from "./command.js";
import type { KernelTree } from "./kernelPackages.js";

export interface FixtureModules {
  readonly dir: string;
  /** The .ko files. */
  readonly files: readonly string[];
  /** Changes whenever a fixture source changes: part of the guest root's cache key. */
  readonly hash: string;
}

export async function buildFixtureModules(kernel: KernelTree): Promise<FixtureModules> {
  const hash = hashInputs(kernel.release, FIXTURES_DIR);
  const parent = path.join(CACHE_DIR, "fixtures");
  const dir = path.join(parent, `${kernel.release}-${hash}`);
  const cached = await cachedDirectory(dir, async (work) => {
    const build =
      kernel.buildRoot === undefined ? path.join(work, "build") : path.join(kernel.buildRoot, BUILD_IN_CHROOT);
    fs.rmSync(build, { recursive: true, force: true });
    fs.cpSync(FIXTURES_DIR, build, { recursive: true });
    try {
      // The headers' own .kernelvariables choose the kernel's compiler (bookworm's gcc-12 on the host).
      if (kernel.buildRoot === undefined) await run("make", ["-C", kernel.headersDir, `M=${build}`, "modules"]);
      else await makeInChroot(kernel.buildRoot, kernel.headersDir);
      for (const ko of fs.readdirSync(build).filter((f) => f.endsWith(".ko")))
        fs.copyFileSync(path.join(build, ko), path.join(work, ko));
    } finally {
      fs.rmSync(build, { recursive: true });
    }
  });
  pruneSiblings(parent, path.basename(dir));
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".ko"))
    .map((f) => path.join(dir, f));
  say(`fixture modules ${files.map((f) => path.basename(f)).join(", ")}${cached ? " (cached)" : ""}`);
  return { dir, files, hash };
}

/** The fixtures' copy inside a release's build chroot. */
const BUILD_IN_CHROOT = "tmp/fixtures-build";

/**
 * kbuild in the release's chroot, with its compiler. objtool reads /proc, so the chroot
 * gets a /proc of its own: a new mount and PID namespace, mounted there and gone with it
 * (never the host's /sys or /dev).
 */
async function makeInChroot(buildRoot: string, headersDir: string): Promise<void> {
  await run("unshare", [
    "--mount",
    "--pid",
    "--fork",
    `--mount-proc=${path.join(buildRoot, "proc")}`,
    "chroot",
    buildRoot,
    "make",
    "-C",
    headersDir,
    `M=/${BUILD_IN_CHROOT}`,
    "modules",
  ]);
}
