/**
 * A simulated host (support/simulatedHost.ts) with a CLI workspace beside it for the roots
 * it does not bring (config, rules, udevadm, accounts), and the command line run in process
 * against both.
 */
import { makeSimulatedHost, type SimulatedHost } from "../../support/simulatedHost.js";
import { makeCliWorkspace, type CliWorkspace } from "./cliWorkspace.js";
import { runCliInProcess, type CliResult } from "./runCliInProcess.js";

export interface SimulatedMachine {
  readonly host: SimulatedHost;
  readonly ws: CliWorkspace;
  /** Runs vfio-autobind with `args` and every root option, over the simulated kernel. */
  readonly cli: (args: readonly string[]) => Promise<CliResult>;
  readonly cleanup: () => void;
}

export function makeSimulatedMachine(name: string): SimulatedMachine {
  const host = makeSimulatedHost();
  const ws = makeCliWorkspace(name);
  ws.installUdevadm();
  return {
    host,
    ws,
    cli: (args) => runCliInProcess([...args, ...host.rootArgs(ws.roots)], { kernelIo: () => host.kernel }),
    cleanup: () => {
      host.cleanup();
      ws.cleanup();
    },
  };
}
