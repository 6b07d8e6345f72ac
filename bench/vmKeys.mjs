// The keys the real-kernel suite contributes to bench/results.json (the driverctl
// comparison, test/vm/host/driverctlFigures.ts computes them), and their targets. One home
// for both scripts: bench/vmResults.mjs merges them in from a VM report, and bench/run.mjs
// keeps them when it rewrites the file and checks their targets in its table.
export const VM_TARGETS = [
  ["e2eTriggerVsDriverctlRatio", "<= 1.0", (v) => v <= 1.0],
  ["e2eOneDeviceVsDriverctlRatio", "<= 1.0", (v) => v <= 1.0],
  ["bootToBoundVsDriverctlRatio", "<= 1.0", (v) => v <= 1.0],
];

/** Reported with the ratios: the medians behind them and the floors in the same guest. */
export const VM_REPORTED = [
  "e2eTriggerOursMsMedian",
  "e2eTriggerDriverctlMsMedian",
  "e2eOneDeviceOursMsMedian",
  "e2eOneDeviceDriverctlMsMedian",
  "bootToBoundOursMs",
  "bootToBoundDriverctlMs",
  "guestNodeJitlessMsMedian",
  "guestBashMsMedian",
  "guestSystemdRunMsMedian",
  "e2eRoundsPerTool",
];

/** Where the figures came from: the VM run, its kernel and its Node. */
export const VM_PROVENANCE = ["vmReport", "vmMeasuredAt", "vmKernel", "vmGuestNode"];

export const VM_KEYS = [...VM_TARGETS.map(([key]) => key), ...VM_REPORTED, ...VM_PROVENANCE];

/** The table rows for the keys that have a target. */
export function vmRows(results) {
  return VM_TARGETS.map(([key, target, ok]) => [key, results[key], target, ok]);
}
