/**
 * The command table is the command line: every entry is registered with yargs (its own
 * --help works and says what it does), and the top-level help lists exactly the table.
 */
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/runCli.js";
import { runBundle } from "../support/runBundle.js";
import { runCliInProcess } from "../support/runCliInProcess.js";

const nameOf = (command: string): string => command.split(" ")[0] as string;

describe("command table", () => {
  it("lists exactly the table's commands in the top-level help, in table order", async () => {
    const help = await runBundle(["--help"]);
    expect(help.exitCode).toBe(0);
    const listed = [...help.stdout.matchAll(/^ {2}vfio-autobind (\S+)/gm)].map((m) => m[1]);
    expect(listed).toEqual([...COMMANDS.map((c) => nameOf(c.command)), "completion"]);
  });

  it.each(COMMANDS.map((c) => [nameOf(c.command), c] as const))("%s --help describes it", async (name, command) => {
    // --dry-run: runBundle refuses bind and release without a fake tree unless they write nothing.
    const help = await runBundle([name, "--help", "--dry-run"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout.startsWith(`vfio-autobind ${command.command}\n`)).toBe(true);
    expect(help.stdout.replace(/\s+/g, " ")).toContain(command.describe);
  });
});

describe('"--" on the command line', () => {
  it("is refused as a usage error instead of silently dropping what follows it", async () => {
    const result = await runCliInProcess(["claim", "--vfs-of", "0000:3b:00.0", "--", "0000:00:03.0"], {
      kernelIo: () => ({ writeAttribute: () => undefined, loadModule: () => Promise.resolve() }),
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^vfio-autobind: "--" is not used by vfio-autobind/);
  });
});
