/**
 * node's flags as the packages run the bundle, read from the packaged files themselves: the
 * wrapper (/usr/sbin/vfio-autobind, what an admin runs) and the udev rule's RUN (what udevd
 * runs for an event). The tests and the benchmark start the bundle this way, so they run
 * what a host runs; test/packaging holds both files to packaging/layout.mjs.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const PACKAGED_RULE = "rules.d/70-vfio-autobind.rules";
export const PACKAGED_WRAPPER = "packaging/files/vfio-autobind.sh";

/** The flags between `/usr/bin/node` and the bundle in one command line. */
function nodeFlags(command: string, source: string): string[] {
  const words = command.split(" ");
  const bundleAt = words.findIndex((word) => word.endsWith(".js"));
  if (words[0] !== "/usr/bin/node" || bundleAt < 0)
    throw new Error(`${source}: no command of the form "/usr/bin/node [flags] <bundle>"`);
  return words.slice(1, bundleAt);
}

/** The udev rule's command line (the helper's), as udevd logs it; `repo` is the repository's root. */
export function ruleHelperCommand(repo: string): string {
  const file = path.join(repo, PACKAGED_RULE);
  const run = /RUN\+="(\/usr\/bin\/node [^"]*)"/.exec(fs.readFileSync(file, "utf8"))?.[1];
  if (run === undefined) throw new Error(`${file}: no RUN of the form "/usr/bin/node ..."`);
  return run;
}

/** The udev rule's flags (the helper's); `repo` is the repository's root. */
export function ruleNodeFlags(repo: string): string[] {
  return nodeFlags(ruleHelperCommand(repo), path.join(repo, PACKAGED_RULE));
}

/**
 * The wrapper's flags: its last line, `exec /usr/bin/node [flags] $quiet <bundle> "$@"`.
 * `$quiet` is left out: the flags it holds where node takes them (QUIET_NODE_FLAGS in
 * packaging/layout.mjs) silence V8's notice and change nothing else.
 */
export function wrapperNodeFlags(repo: string): string[] {
  const file = path.join(repo, PACKAGED_WRAPPER);
  const exec = /^exec (.*) "\$@"$/.exec(fs.readFileSync(file, "utf8").trimEnd().split("\n").at(-1) ?? "")?.[1];
  if (exec === undefined) throw new Error(`${file}: the last line is not exec ... "$@"`);
  return nodeFlags(exec, file).filter((word) => word !== "$quiet");
}
