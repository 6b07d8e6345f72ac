/**
 * The admin's word on which modules stay out, as modprobe(8) and the kernel read it. Pure:
 * text in, forbidden modules out.
 *
 * `modprobe NAME` loads a module by name even when modprobe.d says `blacklist NAME`
 * (blacklist only stops loading through aliases), so vfio-autobind, which loads by name,
 * reads the blacklist itself. A module is forbidden when:
 *   - modprobe.d says `blacklist NAME`;
 *   - modprobe.d says `install NAME /bin/false` (or true, /bin/true, /usr/bin/false, ...,
 *     with or without arguments): loading it runs a command that loads nothing;
 *   - the kernel command line says `module_blacklist=a,b` (the kernel refuses them) or
 *     `modprobe.blacklist=a,b` (modprobe treats them as blacklisted).
 * Module names are compared in kmod's spelling: `-` becomes `_`.
 */
import { normaliseModuleName } from "../alias/aliasRecords.js";

export interface ForbiddenModule {
  readonly module: string;
  /** What forbids it, as the admin wrote it: `blacklist`, `install /bin/false`, `module_blacklist=`. */
  readonly rule: string;
  /** `file:line`, or `kernel command line`. */
  readonly where: string;
}

/** Forbidden modules by name (underscored); the first rule found for a module is the one kept. */
export type ModulePolicy = ReadonlyMap<string, ForbiddenModule>;

export const NO_MODULE_POLICY: ModulePolicy = new Map();

/** Commands after which `install NAME CMD` loads nothing. */
const NO_OP_COMMANDS = new Set(["/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true", "false", "true"]);

const MODULE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const KERNEL_COMMAND_LINE = "kernel command line";

/** `blacklist in /etc/modprobe.d/x.conf:3`, `module_blacklist= on the kernel command line`: for explain and refusals. */
export function describeForbidden(forbidden: ForbiddenModule): string {
  return forbidden.where === KERNEL_COMMAND_LINE
    ? `${forbidden.rule} on the ${KERNEL_COMMAND_LINE}`
    : `${forbidden.rule} in ${forbidden.where}`;
}

/**
 * The rules of one modprobe.d file. Like kmod: `#` starts a comment line, a line ending in
 * `\` continues on the next (the rule is reported at its first line), fields are separated
 * by spaces or tabs, and other commands (options, alias, softdep, ...) are not ours.
 */
export function parseModprobeConf(text: string, file: string): ForbiddenModule[] {
  const found: ForbiddenModule[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    const first = i + 1;
    let line = lines[i] as string;
    while (line.endsWith("\\") && i + 1 < lines.length) {
      i += 1;
      line = `${line.slice(0, -1)} ${lines[i] as string}`;
    }
    const fields = line.trim().split(/[ \t]+/);
    const [command, name, ...rest] = fields;
    if (command === undefined || command.startsWith("#") || name === undefined || !MODULE_NAME.test(name)) continue;
    const where = `${file}:${first}`;
    const module = normaliseModuleName(name);
    if (command === "blacklist") {
      found.push({ module, rule: "blacklist", where });
    } else if (command === "install" && rest[0] !== undefined && NO_OP_COMMANDS.has(rest[0])) {
      found.push({ module, rule: `install ${rest[0]}`, where });
    }
  }
  return found;
}

const CMDLINE_KEYS = ["module_blacklist", "modprobe.blacklist"] as const;

/**
 * The modules the kernel command line (`/proc/cmdline`) forbids. Parameters end at a lone
 * `--` (what follows is for init); a parameter may be quoted as a whole.
 */
export function parseKernelCommandLine(text: string): ForbiddenModule[] {
  const found: ForbiddenModule[] = [];
  for (const raw of text.trim().split(/\s+/)) {
    if (raw === "--") break;
    const parameter = raw.replace(/"/g, "");
    const eq = parameter.indexOf("=");
    if (eq < 0) continue;
    const key = parameter.slice(0, eq);
    if (!(CMDLINE_KEYS as readonly string[]).includes(key)) continue;
    for (const name of parameter.slice(eq + 1).split(",")) {
      if (MODULE_NAME.test(name)) {
        found.push({ module: normaliseModuleName(name), rule: `${key}=`, where: KERNEL_COMMAND_LINE });
      }
    }
  }
  return found;
}

/** Rules in the order they were read; a module keeps the first rule that forbids it. */
export function modulePolicyFrom(rules: readonly ForbiddenModule[]): ModulePolicy {
  const policy = new Map<string, ForbiddenModule>();
  for (const rule of rules) if (!policy.has(rule.module)) policy.set(rule.module, rule);
  return policy;
}
