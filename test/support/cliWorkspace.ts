/**
 * The temporary tree a CLI test points the tool at: the host's files the tool reads and
 * writes (/etc/vfio-autobind, the udev rules, /run/vfio-autobind, /proc, /dev, /lib/modules, the
 * account files and getent, modprobe.d, the initramfs tools, udevadm), each at its usual place under
 * one directory. One list of root options, so no test can leave a root at the host's own
 * by forgetting it; writes there are refused anyway under test (src/paths.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
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
   * The roots beside sysfs, state, /proc, /dev and the modules: what a test gives a simulated
   * host (support/simulatedHost.ts), which brings those itself.
   */
  readonly roots: CliRoots;
  /** Every root option: sysfsRoot, and the rest in this tree. */
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
  const sysfsRoot = options.sysfs?.root ?? path.join(dir, "sys");
  fs.mkdirSync(sysfsRoot, { recursive: true });
  const stateDir = path.join(dir, "run", "vfio-autobind");
  const procRoot = path.join(dir, "proc");
  writeFakeProc(procRoot);
  const devRoot = path.join(dir, "dev");
  const modulesDir = path.join(dir, "lib", "modules");
  const udevadm = path.join(dir, "usr", "bin", "udevadm");
  const configDir = path.join(dir, "etc", "vfio-autobind");
  const rulesFile = path.join(dir, "etc", "udev", "rules.d", "69-vfio-autobind-claims.rules");
  const getent = path.join(dir, "usr", "bin", "getent");
  const roots: CliRoots = {
    configDir,
    rulesFile,
    modprobeRoot: dir,
    accountsRoot: dir,
    getent,
    toolsRoot: dir,
    udevadm,
  };
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
    rootArgs: () => cliRootArgs({ ...roots, sysfsRoot, stateDir, procRoot, devRoot, modulesDir }),
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
