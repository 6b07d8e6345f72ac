// The keys the real-kernel suites contribute to bench/results.json, their targets, and
// where each comes from. One home for both scripts: bench/vmResults.mjs merges them in from
// the suites' reports, and bench/run.mjs keeps them when it rewrites the file and checks
// their targets in its table.
//   vm:   npm run test:vm's report (runs/<time>/report.json), `driverctl.figures`, computed
//         by test/vm/host/driverctlFigures.ts: the trigger rounds and the floors
//   boot: npm run test:boot's report (boot-runs/<time>/report.json), `comparison`, computed
//         by test/vm/boot/host/comparisonFigures.ts: the boots, the way hosts boot
export const VM_TARGETS = [
  ["e2eTriggerVsDriverctlRatio", "<= 1.0", (v) => v <= 1.0],
  ["e2eOneDeviceVsDriverctlRatio", "<= 1.0", (v) => v <= 1.0],
  ["bootToBoundVsDriverctlRatio", "<= 1.0", (v) => v <= 1.0],
];

/** Reported with the ratios: the figures behind them and the floors in the same guest. */
export const VM_REPORTED = [
  "e2eTriggerOursMsMedian",
  "e2eTriggerDriverctlMsMedian",
  "e2eOneDeviceOursMsMedian",
  "e2eOneDeviceDriverctlMsMedian",
  "bootToBoundOursMs",
  "bootToBoundDriverctlMs",
  "bootHostBindsOurs",
  "bootHostBindsDriverctl",
  "bootToBoundRdinitVsDriverctlRatio",
  "bootToBoundRdinitOursMs",
  "bootToBoundRdinitDriverctlMs",
  "guestNodeJitlessMsMedian",
  "guestBashMsMedian",
  "guestSystemdRunMsMedian",
  "e2eRoundsPerTool",
];

/** Which report each key is read from. */
export const BOOT_SUITE_KEYS = [
  "bootToBoundVsDriverctlRatio",
  "bootToBoundOursMs",
  "bootToBoundDriverctlMs",
  "bootHostBindsOurs",
  "bootHostBindsDriverctl",
];
export const sourceOf = (key) => (BOOT_SUITE_KEYS.includes(key) ? "boot" : "vm");

/** Where the figures came from: each run, its kernel and the guest's Node. */
export const VM_PROVENANCE = ["vmReport", "vmMeasuredAt", "vmKernel", "vmGuestNode", "bootReport", "bootMeasuredAt"];

export const VM_KEYS = [...VM_TARGETS.map(([key]) => key), ...VM_REPORTED, ...VM_PROVENANCE];

/** The table rows for the keys that have a target. */
export function vmRows(results) {
  return VM_TARGETS.map(([key, target, ok]) => [key, results[key], target, ok]);
}
