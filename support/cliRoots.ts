/**
 * The command-line options that point vfio-autobind at a test's own trees instead of the
 * host's /sys, /etc, /run, /proc and /lib/modules: one table from each root to its option,
 * so every test, the simulated host and the benchmark spell them the same way.
 */

export interface CliRoots {
  readonly sysfsRoot?: string;
  readonly modulesDir?: string;
  readonly stateDir?: string;
  readonly procRoot?: string;
  readonly devRoot?: string;
  readonly configDir?: string;
  readonly rulesFile?: string;
  readonly kmsg?: string;
  readonly journalSocket?: string;
  readonly modprobeRoot?: string;
  readonly accountsRoot?: string;
  readonly getent?: string;
  readonly toolsRoot?: string;
  readonly udevadm?: string;
}

const ROOT_OPTIONS: { readonly [K in keyof Required<CliRoots>]: string } = {
  sysfsRoot: "--sysfs-root",
  modulesDir: "--modules-dir",
  stateDir: "--state-dir",
  procRoot: "--proc-root",
  devRoot: "--dev-root",
  configDir: "--config-dir",
  rulesFile: "--rules-file",
  kmsg: "--kmsg",
  journalSocket: "--journal-socket",
  modprobeRoot: "--modprobe-root",
  accountsRoot: "--accounts-root",
  getent: "--getent",
  toolsRoot: "--tools-root",
  udevadm: "--udevadm",
};

/** The options for the roots given, in the table's order; a root left out keeps its default. */
export function cliRootArgs(roots: CliRoots): string[] {
  return (Object.keys(ROOT_OPTIONS) as (keyof CliRoots)[]).flatMap((key) => {
    const value = roots[key];
    return value === undefined ? [] : [ROOT_OPTIONS[key], value];
  });
}
