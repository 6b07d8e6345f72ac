/**
 * The guest is what the issue asks for (systemd as PID 1, udevd in its own sandbox), the
 * bundle runs on the release's own Node under --jitless (through the installed
 * `vfio-autobind` command), and list / explain see the real kernel's modules.alias with
 * the fixture variants in it.
 */
import * as fs from "node:fs";
import { bootDevices } from "../../shared/machineLayout.js";
import { runCommand, runTool, type CommandRun } from "../guestSystem.js";
import { defineScenario } from "../scenario.js";

export interface ToolRunsResult {
  /** What PID 1 runs: systemd, not a shell or a test init. */
  readonly pid1: string;
  /** systemd-udevd.service's MemoryDenyWriteExecute=, the sandbox udev's RUN programs inherit. */
  readonly udevdMemoryDenyWriteExecute: string;
  readonly nodeVersion: string;
  /** The first line of `systemctl --version`, e.g. "systemd 252 (252.39-1~deb12u1)". */
  readonly systemdVersion: string;
  readonly toolVersion: CommandRun;
  readonly list: CommandRun;
  /** explain --json for each boot device, by address. */
  readonly explain: Readonly<Record<string, CommandRun>>;
  /** The vfio_pci: lines of the running kernel's modules.alias that name a fixture module. */
  readonly fixtureAliasLines: readonly string[];
  /** Where the fixture modules were found (modinfo -n). */
  readonly fixtureModulePaths: readonly string[];
  /** `dpkg-query -W vfio-autobind`: installed as a package, or not (the bare bundle). */
  readonly dpkgQuery: CommandRun;
}

export const toolRuns = defineScenario<ToolRunsResult>({
  name: "tool-runs",
  run({ log }) {
    const kernel = fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    const aliases = fs.readFileSync(`/lib/modules/${kernel}/modules.alias`, "utf8");
    const explain: Record<string, CommandRun> = {};
    for (const device of Object.values(bootDevices))
      explain[device.address] = runTool(log, ["explain", device.address, "--json"]);
    return {
      pid1: fs.readlinkSync("/proc/1/exe"),
      udevdMemoryDenyWriteExecute: runCommand(log, [
        "systemctl",
        "show",
        "-P",
        "MemoryDenyWriteExecute",
        "systemd-udevd.service",
      ]).stdout.trim(),
      nodeVersion: runCommand(log, ["node", "--version"]).stdout.trim(),
      systemdVersion: runCommand(log, ["systemctl", "--version"]).stdout.split("\n")[0] ?? "",
      toolVersion: runTool(log, ["--version"]),
      list: runTool(log, ["list", "--json"]),
      explain,
      fixtureAliasLines: aliases
        .split("\n")
        .filter((line) => line.startsWith("alias vfio_pci:") && line.includes(" fixture_")),
      fixtureModulePaths: ["fixture_vfio_virtio", "fixture_vfio_virtio_subsys"].map((m) =>
        runCommand(log, ["modinfo", "-n", m]).stdout.trim(),
      ),
      dpkgQuery: runCommand(log, ["dpkg-query", "-W", "-f", "${Status} ${Version}", "vfio-autobind"]),
    };
  },
});
