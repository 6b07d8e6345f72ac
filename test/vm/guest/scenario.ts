/** What a guest scenario is: a name and a function that acts and returns observations. */
import type { GuestLog } from "./guestSystem.js";

export interface ScenarioContext {
  readonly log: GuestLog;
  /** Asks the host to `device_add` this device through QMP; the scenario waits for it to appear. */
  readonly requestHotplug: (requestId: string, device: Readonly<Record<string, string>>) => void;
}

/**
 * A scenario acts in the guest and returns what it saw. It does not judge: the host's
 * vitest files assert on the returned observations, so a failure message shows the facts.
 */
export interface Scenario<Result = unknown> {
  readonly name: string;
  run(context: ScenarioContext): Promise<Result> | Result;
}

export const defineScenario = <Result>(scenario: Scenario<Result>): Scenario<Result> => scenario;
