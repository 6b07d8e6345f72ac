/**
 * `apply --dry-run` and `release --dry-run` as an admin runs them, in process over the
 * simulated host: apply shows the rules and hold script it would write as a unified diff
 * against the installed ones (or says they are up to date), release lists the restore steps
 * release runs. Neither writes anything.
 */
import * as fs from "node:fs";
import { applyPatch } from "diff";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removeRecord } from "../../src/binder/stateStore.js";
import { generatedPaths } from "../../src/paths.js";
import type { SimulatedHost } from "../../support/simulatedHost.js";
import { VIRTIO_NET } from "../../support/simulatedHost.js";
import type { CliWorkspace } from "../support/cliWorkspace.js";
import { makeSimulatedMachine, type SimulatedMachine } from "../support/simulatedMachine.js";

let machine: SimulatedMachine;
let host: SimulatedHost;
let ws: CliWorkspace;
beforeEach(() => {
  machine = makeSimulatedMachine("dry-runs");
  ({ host, ws } = machine);
});
afterEach(() => machine.cleanup());

const cli = (args: readonly string[]) => machine.cli(args);

const read = (file: string): string | null => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null);

/** The diff printed right after `would <verb> FILE:`, as a patch text. */
function diffAfter(stdout: string, header: string): string {
  const lines = stdout.split("\n");
  const start = lines.indexOf(header);
  expect(start, `"${header}" in:\n${stdout}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && !/^(?:---|\+\+\+|@@|[-+ \\])/.test(l));
  return `${lines.slice(start + 1, end).join("\n")}\n`;
}

describe("apply --dry-run", () => {
  it("says the rules and the hold script are up to date when apply would write them as they are", async () => {
    expect((await cli(["claim", VIRTIO_NET, "--now"])).exitCode).toBe(0);
    const holdScript = generatedPaths(ws.configDir).holdScript;
    const dry = await cli(["apply", "--dry-run"]);
    expect(dry).toMatchObject({ exitCode: 0, stderr: "" });
    expect(dry.stdout).toBe(`rules up to date: ${ws.rulesFile}\nhold script up to date: ${holdScript}\n`);
  });

  it("shows a unified diff from each installed file to what apply would write, and writes neither", async () => {
    expect((await cli(["claim", VIRTIO_NET])).exitCode).toBe(0);
    const holdScript = generatedPaths(ws.configDir).holdScript;
    const rulesBefore = read(ws.rulesFile) as string;
    const scriptBefore = read(holdScript) as string;
    // A second claim, written by hand: the generated files no longer follow the config.
    fs.writeFileSync(`${ws.configDir}/60-more.conf`, "[Claim]\nIds=1af4:1042\n");
    const dry = await cli(["apply", "--dry-run"]);
    expect(dry.stderr).toBe("");
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).not.toContain("up to date");
    expect(dry.stdout).not.toContain("if it differs");
    const rulesDiff = diffAfter(dry.stdout, `would change ${ws.rulesFile}:`);
    const scriptDiff = diffAfter(dry.stdout, `would change ${holdScript}:`);
    expect(rulesDiff.split("\n").slice(0, 2)).toEqual([`--- ${ws.rulesFile}`, `+++ ${ws.rulesFile}`]);
    expect(rulesDiff).toMatch(/^\+# \[Claim\] .*60-more\.conf:1$/m);
    // Nothing written: the installed files are as they were.
    expect(read(ws.rulesFile)).toBe(rulesBefore);
    expect(read(holdScript)).toBe(scriptBefore);

    // The diffs are exactly what apply then writes.
    expect((await cli(["apply"])).exitCode).toBe(0);
    expect(applyPatch(rulesBefore, rulesDiff)).toBe(read(ws.rulesFile));
    expect(applyPatch(scriptBefore, scriptDiff)).toBe(read(holdScript));
  });

  it("shows a file apply would create as a diff from /dev/null", async () => {
    fs.mkdirSync(ws.configDir, { recursive: true });
    fs.writeFileSync(`${ws.configDir}/50-net.conf`, `[Claim]\nAddress=${VIRTIO_NET}\n`);
    const dry = await cli(["apply", "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    const diff = diffAfter(dry.stdout, `would create ${ws.rulesFile}:`);
    expect(diff.split("\n").slice(0, 2)).toEqual(["--- /dev/null", `+++ ${ws.rulesFile}`]);
    expect(read(ws.rulesFile)).toBeNull();
    expect((await cli(["apply"])).exitCode).toBe(0);
    expect(applyPatch("", diff)).toBe(read(ws.rulesFile));
  });
});

describe("release --dry-run", () => {
  it("prints the restore steps release takes, and writes nothing", async () => {
    expect((await cli(["bind", VIRTIO_NET])).exitCode).toBe(0);
    const before = host.kernel.operations.length;
    const dry = await cli(["release", VIRTIO_NET, "--dry-run"]);
    expect(dry).toMatchObject({ exitCode: 0, stderr: "" });
    expect(dry.stdout).toBe(
      [
        `${VIRTIO_NET}: would release it (dry run, nothing written)`,
        `  write (clear) to /sys/bus/pci/devices/${VIRTIO_NET}/driver_override`,
        "  unbind whatever driver it is on unless it is virtio-pci",
        `  write ${VIRTIO_NET} to /sys/bus/pci/drivers/virtio-pci/bind, else to /sys/bus/pci/drivers_probe`,
        "",
      ].join("\n"),
    );
    expect(host.kernel.operations.length).toBe(before);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    // And release does those steps.
    expect((await cli(["release", VIRTIO_NET])).stdout).toBe(`${VIRTIO_NET}: released; back on virtio-pci\n`);
  });

  it("with --force on a device it did not bind: clear the override, unbind, and let the kernel choose", async () => {
    expect((await cli(["bind", VIRTIO_NET])).exitCode).toBe(0);
    removeRecord(host.stateDir, VIRTIO_NET);
    const dry = await cli(["release", VIRTIO_NET, "--force", "--dry-run", "--json"]);
    expect(dry.exitCode).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({
      address: VIRTIO_NET,
      status: "planned",
      driver: "virtio_vfio_pci",
      plan: [
        `write (clear) to /sys/bus/pci/devices/${VIRTIO_NET}/driver_override`,
        "unbind whatever driver it is on",
        `write ${VIRTIO_NET} to /sys/bus/pci/drivers_probe, so the kernel gives it the driver it would have without vfio-autobind`,
      ],
      message: `${VIRTIO_NET}: would release it (dry run, nothing written)`,
    });
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio_vfio_pci");
    expect((await cli(["release", VIRTIO_NET, "--force"])).exitCode).toBe(0);
    expect(host.kernel.boundDriver(VIRTIO_NET)).toBe("virtio-pci");
  });
});
