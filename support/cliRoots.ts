/**
 * The command-line options that point vfio-autobind at a test's own trees instead of the
 * host's: `--root` (the test's /, under which every path is taken, src/paths.ts), each
 * path's own option where a tree lives elsewhere, and the stand-ins for getent and udevadm.
 * The option names are the tool's own (PATH_OPTIONS), so every test, the simulated host and
 * the benchmark spell them as the tool does.
 */
import { PATH_OPTIONS, ROOT_OPTION, type Environment } from "../src/paths.js";

export type CliRoots = { readonly [K in keyof typeof PATH_OPTIONS]?: Environment[K] } & {
  /** The test's /: every path not given on its own is taken under it. */
  readonly root?: string;
  readonly getent?: string;
  readonly udevadm?: string;
};

const OPTIONS: { readonly [K in keyof Required<CliRoots>]: string } = {
  root: ROOT_OPTION,
  ...PATH_OPTIONS,
  getent: "getent",
  udevadm: "udevadm",
};

/** The options for the roots given, `--root` first; a root left out is taken under `--root`, or is the host's. */
export function cliRootArgs(roots: CliRoots): string[] {
  return (Object.keys(OPTIONS) as (keyof CliRoots)[]).flatMap((key) => {
    const value = roots[key];
    return value === undefined ? [] : [`--${OPTIONS[key]}`, value];
  });
}
