import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modprobe, ModuleLoadError } from "../../src/kmod/loadModule.js";
import { runCommand, succeededCommand } from "../../src/process/runCommand.js";

let tmp: string;

function script(name: string, body: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-run-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("runCommand", () => {
  it("passes arguments as a vector, never through a shell", async () => {
    const out = path.join(tmp, "args");
    const echo = script("echo-args", `for a in "$@"; do printf '%s\\n' "$a"; done > "${out}"`);
    const result = await runCommand(echo, ["--", "a b", "$(id)", ";true"], { timeoutMs: 5_000 });
    expect(succeededCommand(result)).toBe(true);
    expect(fs.readFileSync(out, "utf8")).toBe("--\na b\n$(id)\n;true\n");
  });

  it("reports the exit status and standard error of a failure", async () => {
    const fail = script("fail", "echo first >&2; echo 'last line' >&2; exit 3");
    const result = await runCommand(fail, ["x"], { timeoutMs: 5_000 });
    expect(result).toMatchObject({ exitCode: 3, timedOut: false, spawnError: undefined });
    expect(result.stderr).toBe("first\nlast line\n");
    expect(result.shortMessage).toBe(`Command failed with exit code 3: ${fail} x`);
  });

  it("says so when the command does not exist", async () => {
    const missing = path.join(tmp, "no-such-command");
    const result = await runCommand(missing, [], { timeoutMs: 5_000 });
    expect(result.spawnError).toBe("ENOENT");
    expect(result.shortMessage).toBe(`Command failed with ENOENT: ${missing}`);
  });

  it("kills a command that outlives its deadline", async () => {
    const slow = script("slow", "exec sleep 30");
    const started = Date.now();
    const result = await runCommand(slow, [], { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ timedOut: true, signal: "SIGTERM" });
    expect(succeededCommand(result)).toBe(false);
  });
});

describe("modprobe", () => {
  it("loads with `--` before the module name", async () => {
    const out = path.join(tmp, "modprobe-args");
    const fake = script("modprobe-ok", `printf '%s ' "$@" > "${out}"`);
    await modprobe("vfio_pci", 5_000, fake);
    expect(fs.readFileSync(out, "utf8")).toBe("-- vfio_pci ");
  });

  it("reports modprobe's last line of standard error", async () => {
    const fake = script(
      "modprobe-fail",
      "echo \"modprobe: ERROR: could not insert '$2': Invalid argument\" >&2; exit 1",
    );
    await expect(modprobe("virtio_vfio_pci", 5_000, fake)).rejects.toThrow(
      new ModuleLoadError(
        "modprobe virtio_vfio_pci failed: modprobe: ERROR: could not insert 'virtio_vfio_pci': Invalid argument",
      ),
    );
  });

  it("reports a failure that prints nothing, a missing modprobe and a timeout in one line", async () => {
    const silent = script("modprobe-silent", "exit 1");
    await expect(modprobe("vfio_pci", 5_000, silent)).rejects.toThrow(
      `modprobe vfio_pci failed: Command failed with exit code 1: ${silent} -- vfio_pci`,
    );
    const missing = path.join(tmp, "no-modprobe");
    await expect(modprobe("vfio_pci", 5_000, missing)).rejects.toThrow(
      `modprobe vfio_pci failed: Command failed with ENOENT: ${missing} -- vfio_pci`,
    );
    const hung = script("modprobe-hung", "exec sleep 30");
    await expect(modprobe("vfio_pci", 1_000, hung)).rejects.toThrow("modprobe vfio_pci timed out after 1 s");
  });

  it("refuses a name that is not a module name, starting nothing", async () => {
    const out = path.join(tmp, "never");
    const fake = script("modprobe-never", `touch "${out}"`);
    await expect(modprobe("../evil", 5_000, fake)).rejects.toThrow('refusing to load "../evil": not a module name');
    expect(fs.existsSync(out)).toBe(false);
  });
});
