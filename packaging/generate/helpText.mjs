// Asks the built bundle for its own help, which is what the man page is made from.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { NODE_FLAGS } from "../layout.mjs";
import { parseHelp } from "./parseHelp.mjs";

const UNWRAPPED = fileURLToPath(new URL("./unwrapped-help.cjs", import.meta.url));

/** Runs `node <bundle> ...args` and returns its standard output. */
export function runBundle(bundle, args, { unwrapped = false } = {}) {
  const preload = unwrapped ? ["--require", UNWRAPPED] : [];
  return execFileSync(process.execPath, [...NODE_FLAGS, ...preload, bundle, ...args], {
    encoding: "utf8",
    env: { ...process.env, VFIO_AUTOBIND_DEBUG: "" },
  });
}

/** The top-level --help, and each command's `<command> --help` keyed by command name. */
export function collectHelp(bundle) {
  const top = unwrappedHelp(bundle, []);
  const commands = new Map();
  for (const name of commandNames(parseHelp(top))) commands.set(name, unwrappedHelp(bundle, [name]));
  return { top, commands };
}

function unwrappedHelp(bundle, command) {
  const text = runBundle(bundle, [...command, "--help"], { unwrapped: true });
  if (parseHelp(text).wrapped) {
    throw new Error(
      `'vfio-autobind ${[...command, "--help"].join(" ")}' still wraps its rows under unwrapped-help.cjs; ` +
        "the CLI no longer takes its help width from process.stdout.columns, so update that preload",
    );
  }
  return text;
}

/** Command names from the Commands section: "vfio-autobind bind <device>" is "bind". */
export function commandNames(parsedTop) {
  const rows = parsedTop.sections.get("Commands") ?? [];
  if (rows.length === 0) throw new Error("the bundle's --help lists no commands; is it the right file?");
  return rows.map((row) => row.term.split(/\s+/)[1]).filter((name) => name !== undefined);
}
