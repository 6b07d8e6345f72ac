/** What one run of the boot suite found, written by bootSetup.ts and read by the test files. */
import * as fs from "node:fs";
import type { PhaseTime } from "../../host/command.js";
import { IMAGES, vfioDrivers, type ImageName, type RootFlavour } from "../shared/bootMachine.js";
import { bindUevents, hostBinds, kernelBinds, type Bind } from "../shared/kernelLog.js";
import type { BootImage } from "./bootImage.js";
import type { BootOutcome } from "./bootQemu.js";
import type { ComparisonFigures } from "./comparisonFigures.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Set by bootSetup.ts under test/vm/boot/vitest.config.ts only. */
    bootReportPath: string;
  }
}

export interface BootRecord extends BootOutcome {
  readonly image: ImageName;
  readonly flavour: RootFlavour;
  /** The devices claimed during this boot (the image's claims, plus any the guest added before it). */
  readonly claimed: readonly string[];
  readonly kernelBinds: readonly Bind[];
  readonly bindUevents: readonly Bind[];
  /** kernelBinds of claimed devices by a driver outside the VFIO family. */
  readonly hostBindsOfClaimed: readonly Bind[];
}

export interface BootSuiteReport {
  /** The Debian release of the roots (VFIO_AUTOBIND_RELEASE). */
  readonly release: string;
  readonly kernelRelease: string;
  /** The boots this run planned, in order: the full plan, or the smoke suite's part of it. */
  readonly plannedBoots: readonly string[];
  /** The machines' host driver modules that the kernel has built in (bootMachine.ts, `hostModule`). */
  readonly builtInHostModules: readonly string[];
  readonly phases: readonly PhaseTime[];
  readonly wallSeconds: number;
  readonly images: readonly BootImage[];
  readonly boots: readonly BootRecord[];
  /** Host binds of the claimed devices, per boot and per device: the numbers for the note. */
  readonly counts: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The driverctl comparison's figures, for bench/vmResults.mjs. */
  readonly comparison: ComparisonFigures;
}

export function bootRecord(outcome: BootOutcome, image: ImageName, claimed: readonly string[]): BootRecord {
  const lines = outcome.observation?.kernelLog ?? [];
  const binds = kernelBinds(lines);
  return {
    ...outcome,
    image,
    flavour: IMAGES[image].flavour,
    claimed,
    kernelBinds: binds,
    bindUevents: bindUevents(lines),
    hostBindsOfClaimed: hostBinds(binds, claimed, vfioDrivers),
  };
}

/** Per boot: every claimed device with its host-bind count (0 included), by the layout's name. */
export function countHostBinds(boots: readonly BootRecord[]): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const boot of boots) {
    const nameOf = new Map(Object.entries(IMAGES[boot.image].layout).map(([name, d]) => [d.address, name]));
    const perDevice: Record<string, number> = {};
    for (const address of boot.claimed)
      perDevice[`${nameOf.get(address) ?? "?"} ${address}`] = boot.hostBindsOfClaimed.filter(
        (b) => b.address === address,
      ).length;
    counts[boot.name] = perDevice;
  }
  return counts;
}

export function writeBootReport(file: string, report: BootSuiteReport): void {
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

export function readBootReport(file: string): BootSuiteReport {
  return JSON.parse(fs.readFileSync(file, "utf8")) as BootSuiteReport;
}
