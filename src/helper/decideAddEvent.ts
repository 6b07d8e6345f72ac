/**
 * The decision of one PCI add event of a device the generated rules marked as claimed, and
 * the bind that carries it out (handleAddEvent.ts is the process around it). It reads the
 * device from the event's environment (PCI_SLOT_NAME, DEVPATH), re-checks the claim against the
 * current config, binds, and writes one journal line per decision. A config that `check` would reject binds nothing.
 * It must end well inside udev's 180 s event timeout: the bind environment it is given
 * carries the event's budget (binder/budget.ts).
 */
import * as path from "node:path";
import { bindClaimed } from "../binder/bindClaimed.js";
import type { BindEnvironment, RulesDecision } from "../binder/bindDevice.js";
import { EXIT_CODES, exitCodeFor, succeeded } from "../binder/outcomes.js";
import { describeRelease, foundHeld, releaseHold } from "../binder/failOpen.js";
import { releaseDevice } from "../binder/releaseDevice.js";
import { readRecord } from "../binder/stateStore.js";
import { isSafeDriverName, isSafeModuleName } from "../paths.js";
import { isOverrideOurs } from "../policy/hold.js";
import { formatConfigError } from "../config/claimConfig.js";
import { readClaimConfig } from "../config/readClaimConfig.js";
import type { DecisionLog } from "../journal/decisionLog.js";
import { selectClaim } from "../policy/selectClaim.js";
import { isSysfsPciName } from "../sysfs/pciAddress.js";
import { deviceExists, readPciDevice, readVfioView } from "../sysfs/pciDevice.js";
import { vfioFactsOf } from "../sysfs/vfioHolders.js";
import { RULE_ENV } from "../rules/ruleEnv.js";

/** What the generated rules wrote for this event, from its environment; checked like any input. */
export function rulesDecisionOf(event: NodeJS.ProcessEnv): RulesDecision | undefined {
  const module = event[RULE_ENV.module] ?? "";
  const driver = event[RULE_ENV.driver] ?? "";
  return isSafeModuleName(module) && isSafeDriverName(driver) ? { module, driver } : undefined;
}

/** The device of the event: PCI_SLOT_NAME, else the last part of DEVPATH; checked by the caller. */
export function eventAddress(event: NodeJS.ProcessEnv): string {
  return event["PCI_SLOT_NAME"] ?? path.basename(event["DEVPATH"] ?? "");
}

/**
 * A device held for us that no VFIO driver took (no claim selects it after all, the config
 * is broken, a refusal, a failed bind), or that the rules' own driver took though the helper
 * does not stand behind it: the hold is cleared and the kernel probes it, so it goes where
 * it would have gone without us (fail-open). Returns the words for the event's one line, or
 * "" when the device holds nothing of ours.
 */
async function letGoOfHold(address: string, env: BindEnvironment, rules: RulesDecision | undefined): Promise<string> {
  const rulesDriver = rules?.driver ?? null;
  // On no driver, nothing needs the lock or the state directory: the last resort's steps do.
  const release = releaseHold({ sysfsRoot: env.sysfsRoot, address, kernel: env.kernel }, (override) =>
    isOverrideOurs(override, rulesDriver),
  );
  if (foundHeld(release)) return `; ${describeRelease(release, null)}`;
  if (release.kind !== "not-held" || release.driver === null || release.driver !== rulesDriver) return "";
  const device = readPciDevice(env.sysfsRoot, address);
  if (!isOverrideOurs(device.driverOverride, rulesDriver) || readRecord(env.stateDir, address) !== null) return "";
  const released = await releaseDevice({ address, force: true, dryRun: false }, env);
  if (released.status !== "released") return `; could not clear the hold: ${released.message}`;
  return `; cleared the hold, ${released.driver === null ? "no driver took it" : `now on ${released.driver}`}`;
}

export interface AddEventContext {
  readonly configDir: string;
  readonly env: BindEnvironment;
  readonly log: DecisionLog;
}

/**
 * The nodes a VMM is given for a device now on VFIO: the group node and, on 6.2+ kernels,
 * the iommufd cdev. Names built from a checked group number and a cdev name of a strict
 * pattern (vfioHolders.ts), so the journal line stays one safe line.
 */
function nodesNote(env: BindEnvironment, outcome: { address: string; status: string }): string {
  if (outcome.status !== "bound" && outcome.status !== "already-bound") return "";
  try {
    const device = readVfioView(env.sysfsRoot, outcome.address);
    if (!device.hasVfioDev) return "";
    const facts = vfioFactsOf(env.sysfsRoot, env, device, { scanHolders: false });
    const cdev = facts.cdev === null ? "" : `, cdev ${facts.cdev} (${facts.cdevSysfs})`;
    return facts.groupNode === null && cdev === "" ? "" : `; group node ${facts.groupNode ?? "none"}${cdev}`;
  } catch {
    return ""; // gone again: the outcome line says what happened
  }
}

/** Decides one add event and binds; returns the exit code. Every path that decides something logs it. */
export async function decideAddEvent(event: NodeJS.ProcessEnv, context: AddEventContext): Promise<number> {
  const address = eventAddress(event);
  const { log, env } = context;
  if (!isSysfsPciName(address)) {
    log.error(
      `udev event without a PCI address (PCI_SLOT_NAME=${JSON.stringify(event["PCI_SLOT_NAME"] ?? "")}, DEVPATH=${JSON.stringify(event["DEVPATH"] ?? "")}); nothing done`,
    );
    return EXIT_CODES.failure;
  }
  if (!deviceExists(env.sysfsRoot, address)) {
    log.info(`${address}: gone before it could be handled; nothing done`);
    return EXIT_CODES.ok;
  }

  const rules = rulesDecisionOf(event);
  const config = readClaimConfig(context.configDir);
  if (config.errors.length > 0) {
    const first = config.errors[0];
    log.error(
      `${address}: not bound: ${context.configDir} has ${config.errors.length} error(s), first ${first === undefined ? "" : formatConfigError(first)}; fix it and run "vfio-autobind check"${await letGoOfHold(address, env, rules)}`,
    );
    return EXIT_CODES.failure;
  }

  const device = readPciDevice(env.sysfsRoot, address);
  const selection = selectClaim(config, device);
  const current = device.driver ?? "no driver";
  if (selection.kind === "excluded") {
    log.info(
      `${address}: excluded by ${selection.exclusion.origin.file}:${selection.exclusion.origin.line}; left on ${current}${await letGoOfHold(address, env, rules)}`,
    );
    return EXIT_CODES.ok;
  }
  if (selection.kind === "unclaimed") {
    log.info(`${address}: no claim selects it; left on ${current}${await letGoOfHold(address, env, rules)}`);
    return EXIT_CODES.ok;
  }

  const claimAt = `${selection.claim.origin.file}:${selection.claim.origin.line}`;
  const outcomes = await bindClaimed(address, selection.claim, env, {
    dryRun: false,
    // Read a moment ago, outside any lock: bindDevice reads it afresh once it holds the lock.
    device,
    isClaimed: (peer) => selectClaim(config, peer).kind === "claimed",
    ...(rules === undefined ? {} : { rules }),
  });
  const first = outcomes[0];
  const nothingTried = first?.status === "refused" || (first?.status === "failed" && first.restore === null);
  if (first !== undefined && nothingTried && first.address === address)
    outcomes[0] = { ...first, message: `${first.message}${await letGoOfHold(address, env, rules)}` };
  for (const outcome of outcomes) {
    const line = `${outcome.message}${nodesNote(env, outcome)} [claim ${claimAt}]`;
    if (succeeded(outcome)) log.info(line);
    else log.error(line);
  }
  return exitCodeFor(outcomes);
}
