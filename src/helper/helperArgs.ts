/**
 * The udev helper's command line: string options only, parsed exactly as node:util's
 * parseArgs({ strict: true, allowPositionals: false }) parses them (test/unit/helperArgs.test.ts
 * holds the two together): `--name value` or `--name=value`, the last one given wins, and an
 * unknown option, a missing or dash-led value, a short option or any other argument is an
 * error. parseArgs itself loads two modules, about a millisecond of every udev event under
 * --jitless, for what is ten lines here.
 */
import { UsageError } from "../errors.js";

/** A value that would read as an option (parseArgs calls it ambiguous); `-` alone is a value. */
const looksLikeOption = (value: string): boolean => value.length > 1 && value.startsWith("-");

export function parseHelperArgs<Name extends string>(
  argv: readonly string[],
  names: readonly Name[],
): Partial<Record<Name, string>> {
  const known = new Set<string>(names);
  const values: Partial<Record<Name, string>> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === "--") {
      const rest = argv[i + 1];
      if (rest !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(rest)}`);
      break;
    }
    if (!arg.startsWith("--")) {
      throw new UsageError(
        looksLikeOption(arg) ? `unknown option ${JSON.stringify(arg)}` : `unexpected argument ${JSON.stringify(arg)}`,
      );
    }
    const equals = arg.indexOf("=");
    const name = arg.slice(2, equals < 0 ? undefined : equals);
    if (!known.has(name))
      throw new UsageError(`unknown option ${JSON.stringify(equals < 0 ? arg : arg.slice(0, equals))}`);
    let value: string;
    if (equals >= 0) {
      value = arg.slice(equals + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option --${name} needs a value`);
      if (looksLikeOption(next))
        throw new UsageError(
          `option --${name} needs a value, and ${JSON.stringify(next)} reads as an option (write --${name}=VALUE for a value that starts with a dash)`,
        );
      value = next;
      i += 1;
    }
    values[name as Name] = value;
  }
  return values;
}
