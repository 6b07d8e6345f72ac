/** Running the role with Debian's ansible-playbook and reading its PLAY RECAP. */
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { newestDistDeb } from "../../host/installTool.js";
import { REPO_ROOT } from "../../host/paths.js";

export const ROLES_DIR = path.join(REPO_ROOT, "contrib", "ansible", "roles");

/** The .deb `npm run package` built (npm run test:fleet runs it first). */
export function builtDeb(): string {
  const deb = newestDistDeb();
  if (deb === null) throw new Error("dist/ holds no .deb: run npm run package (npm run test:fleet does)");
  return deb;
}

export interface PlaybookRun {
  readonly exitCode: number | undefined;
  readonly output: string;
  /** The host's recap line, e.g. `ok=20 changed=5 unreachable=0 failed=0 ...`. */
  readonly recap: string;
  readonly counts: Readonly<Record<string, number>>;
}

/** A play applying the role to every host in the inventory, a host at a time. */
export function writePlaybook(dir: string): string {
  const file = path.join(dir, "site.yml");
  fs.writeFileSync(file, "- hosts: all\n  gather_facts: false\n  serial: 1\n  roles:\n    - vfio_autobind\n");
  return file;
}

export async function runPlaybook(options: {
  dir: string;
  inventory: string;
  vars: Record<string, unknown>;
  extraArgs?: readonly string[];
}): Promise<PlaybookRun> {
  const varsFile = path.join(options.dir, "vars.json");
  fs.writeFileSync(varsFile, JSON.stringify(options.vars));
  const result = await execa(
    "ansible-playbook",
    ["-i", options.inventory, "-e", `@${varsFile}`, ...(options.extraArgs ?? []), writePlaybook(options.dir)],
    {
      reject: false,
      all: true,
      cwd: options.dir,
      timeout: 10 * 60_000,
      // Pipelining sends each module over the one SSH connection instead of copying it
      // first: a third of the round trips, which a TCG guest makes slow.
      env: {
        ANSIBLE_ROLES_PATH: ROLES_DIR,
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_HOST_KEY_CHECKING: "False",
        ANSIBLE_PIPELINING: "True",
      },
    },
  );
  const output = String(result.all ?? "");
  const recap = /PLAY RECAP \*+\n\S+\s+:\s+(.*)$/m.exec(output)?.[1]?.trim() ?? "";
  const counts = Object.fromEntries([...recap.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
  process.stdout.write(`[fleet] ansible-playbook ${(options.extraArgs ?? []).join(" ")}: ${recap}\n`);
  return { exitCode: result.exitCode, output, recap, counts };
}
