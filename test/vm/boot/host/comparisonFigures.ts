/**
 * The driverctl comparison booted the Debian way: from the two
 * comparison boots' kernel logs, when the last of the 8 devices reached vfio-pci with
 * each tool, and how many times a host driver had them first. Pure. bench/vmResults.mjs
 * copies the figures into bench/results.json; no test judges a time.
 */
import { COMPARE_DRIVER, lastBindTo } from "../../shared/driverctlCompare.js";
import { ms, ratio } from "../../host/driverctlFigures.js";
import { compareAddresses, vfioDrivers } from "../shared/bootMachine.js";
import { hostBinds, type Bind } from "../shared/kernelLog.js";

/** The boots behind the figures, in bootSetup.ts's plan. */
export const COMPARISON_BOOTS = { ours: "compare-ours", driverctl: "compare-driverctl" } as const;

/** What the comparison needs of one boot's record. */
export interface ComparedBoot {
  readonly name: string;
  readonly kernelBinds: readonly Bind[];
  readonly observation: { readonly devices: readonly { address: string; driver: string | null }[] } | null;
}

export interface ComparisonFigures {
  /** Kernel start to the last of the 8 binds to vfio-pci, ours over driverctl's. Target <= 1.0. */
  readonly bootToBoundVsDriverctlRatio: number | null;
  readonly bootToBoundOursMs: number | null;
  readonly bootToBoundDriverctlMs: number | null;
  /** Binds of the 8 by a driver outside the VFIO family, with each tool (null: the boot did not run). */
  readonly bootHostBindsOurs: number | null;
  readonly bootHostBindsDriverctl: number | null;
}

function lastBoundSeconds(boot: ComparedBoot | undefined): number | null {
  if (boot === undefined || boot.observation === null) return null;
  const now = new Map(boot.observation.devices.map((d) => [d.address, d.driver]));
  const binds = boot.kernelBinds.map((b) => ({ address: b.address, driver: b.driver, seconds: b.time }));
  return lastBindTo(binds, compareAddresses, COMPARE_DRIVER, (address) => now.get(address) ?? null);
}

/** Null for a boot that sent nothing: its kernel log is unknown, not empty. */
const hostBindCount = (boot: ComparedBoot | undefined): number | null =>
  boot === undefined || boot.observation === null
    ? null
    : hostBinds(boot.kernelBinds, compareAddresses, vfioDrivers).length;

export function comparisonFigures(boots: readonly ComparedBoot[]): ComparisonFigures {
  const ours = boots.find((b) => b.name === COMPARISON_BOOTS.ours);
  const driverctl = boots.find((b) => b.name === COMPARISON_BOOTS.driverctl);
  const oursMs = ms(lastBoundSeconds(ours));
  const driverctlMs = ms(lastBoundSeconds(driverctl));
  return {
    bootToBoundVsDriverctlRatio: ratio(oursMs, driverctlMs),
    bootToBoundOursMs: oursMs,
    bootToBoundDriverctlMs: driverctlMs,
    bootHostBindsOurs: hostBindCount(ours),
    bootHostBindsDriverctl: hostBindCount(driverctl),
  };
}
