/**
 * The temporary tree a CLI test points the tool at: the host's files the tool reads and
 * writes (/etc/vfio-autobind, the udev rules, /run/vfio-autobind, /proc, /dev, /lib/modules, the
 * account files and getent, modprobe.d, the initramfs tools, udevadm), each at its usual place under
 * one directory, given to the tool as `--root`: no test can leave a path at the host's own
 * by forgetting its option. Writes there are refused anyway under test (hostWriteGuard.cjs).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { environmentUnder } from "../../src/paths.js";
import { cliRootArgs, type CliRoots } from "../../support/cliRoots.js";
import { writeFakeProc } from "../../support/fakeProc.js";
import type { FakeSysfs } from "../../support/fakeSysfs.js";

export interface CliWorkspace {
  /** The tree's root: what / is to the tool. */
  readonly dir: string;
  /** The fake tree given, or else an empty directory, as /sys is in a chroot or an image build. */
  readonly sysfsRoot: string;
  /** Not made until a test or the tool makes it. */
  readonly configDir: string;
  readonly rulesFile: string;
  readonly stateDir: string;
  /** A /proc in which the host uses no device (support/fakeProc.ts). */
  readonly procRoot: string;
  /** Where the VFIO nodes are (support/fakeProc.ts puts holders' nodes there). */
  readonly devRoot: string;
  /** Not made until a test writes a modules.alias there. */
  readonly modulesDir: string;
  /** Missing until installUdevadm: a tool that runs it then gets its "could not reload" warning. */
  readonly udevadm: string;
  /**
   * The tree as `--root`, with the stand-ins for getent and udevadm: what a test gives a
   * simulated host (support/simulatedHost.ts), whose sysfs, state, /proc, /dev and modules
   * are given on their own.
   */
  readonly roots: CliRoots;
  /** `--root` and the options for what is not at its usual place under it: a fake sysfs given, the modules. */
  rootArgs(): string[];
  /** A udevadm that runs `script` (default: does nothing and succeeds). */
  installUdevadm(script?: string): void;
  /**
   * etc/passwd and etc/group under the tree, where the tree's getent looks Owner= names up
   * (the tool asks NSS through getent; this one reads only these files), and optionally
   * etc/login.defs.
   */
  writeAccounts(accounts: { passwd: string; group: string; loginDefs?: string }): void;
  /** Removes the tree, and the fake sysfs tree it was given. */
  cleanup(): void;
}

export function makeCliWorkspace(name: string, options: { sysfs?: FakeSysfs } = {}): CliWorkspace {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `vfio-autobind-${name}-`)));
  // Every path where the tool takes it under --root.
  const { stateDir, procRoot, devRoot, configDir, rulesFile, ...under } = environmentUnder(dir);
  const sysfsRoot = options.sysfs?.root ?? under.sysfsRoot;
  fs.mkdirSync(sysfsRoot, { recursive: true });
  writeFakeProc(procRoot);
  // Not the running kernel's release: a test writes one modules.alias for whatever kernel.
  const modulesDir = under.modulesBase;
  const udevadm = path.join(dir, "usr", "bin", "udevadm");
  const getent = path.join(dir, "usr", "bin", "getent");
  const roots: CliRoots = { root: dir, getent, udevadm };
  const write = (file: string, text: string, mode = 0o644): void => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode });
  };
  // getent DATABASE NAME as glibc's answers it (the entry and 0, or 2 for none), from the
  // tree's etc/passwd and etc/group only: no test sees the host's accounts.
  write(
    getent,
    `#!/bin/sh\nfile='${path.join(dir, "etc")}'/"$1"\n[ -f "$file" ] || exit 2\nawk -F: -v name="$2" '$1 == name { print; found = 1; exit } END { exit found ? 0 : 2 }' "$file"\n`,
    0o755,
  );
  return {
    dir,
    sysfsRoot,
    configDir,
    rulesFile,
    stateDir,
    procRoot,
    devRoot,
    modulesDir,
    udevadm,
    roots,
    rootArgs: () => cliRootArgs({ ...roots, ...(options.sysfs === undefined ? {} : { sysfsRoot }), modulesDir }),
    installUdevadm: (script = "exit 0") => write(udevadm, `#!/bin/sh\n${script}\n`, 0o755),
    writeAccounts: ({ passwd, group, loginDefs }) => {
      write(path.join(dir, "etc", "passwd"), passwd);
      write(path.join(dir, "etc", "group"), group);
      if (loginDefs !== undefined) write(path.join(dir, "etc", "login.defs"), loginDefs);
    },
    cleanup: () => {
      options.sysfs?.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
