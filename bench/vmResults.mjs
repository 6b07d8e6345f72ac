// Merges the real-kernel suites' driverctl comparison into bench/results.json:
//
//   npm run test:vm && npm run test:boot      # as root; see test/vm/README.md, test/vm/boot/README.md
//   node bench/vmResults.mjs [VM_REPORT [BOOT_REPORT]]
//
// VM_REPORT is a test:vm run's report.json, BOOT_REPORT a test:boot run's; by default the
// newest of each under ${VFIO_AUTOBIND_VM_CACHE:-/var/tmp/vfio-autobind-vm} (runs/ and
// boot-runs/). It copies the keys of bench/vmKeys.mjs from each report (sourceOf says which),
// adds where they came from, leaves every other key as it is, and prints the keys with their
// targets. `npm run bench` keeps these keys when it rewrites the file, so the order of the
// two does not matter.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VM_KEYS, VM_REPORTED, VM_TARGETS, sourceOf, vmRows } from "./vmKeys.mjs";

const RESULTS = "bench/results.json";
const CACHE = process.env.VFIO_AUTOBIND_VM_CACHE ?? "/var/tmp/vfio-autobind-vm";

const SOURCES = {
  vm: { runs: "runs", suite: "npm run test:vm", figures: (report) => report.driverctl?.figures },
  boot: { runs: "boot-runs", suite: "npm run test:boot", figures: (report) => report.comparison },
};

function newestReport(source) {
  const runs = join(CACHE, SOURCES[source].runs);
  // Run directories are ISO time stamps: the last in order is the newest.
  const withReport = (existsSync(runs) ? readdirSync(runs) : [])
    .sort()
    .map((dir) => join(runs, dir, "report.json"))
    .filter((file) => existsSync(file));
  if (withReport.length === 0) throw new Error(`no report.json under ${runs}: run ${SOURCES[source].suite} first`);
  return withReport[withReport.length - 1];
}

function fail(message) {
  console.error(`bench/vmResults.mjs: ${message}`);
  process.exit(1);
}

const loaded = {};
for (const [source, argument] of [
  ["vm", process.argv[2]],
  ["boot", process.argv[3]],
]) {
  let file;
  try {
    file = argument ?? newestReport(source);
    const report = JSON.parse(readFileSync(file, "utf8"));
    const figures = SOURCES[source].figures(report);
    if (figures === undefined || figures === null)
      fail(`${file}: no driverctl comparison figures (the comparison boots did not run, or a scenario threw)`);
    loaded[source] = { file, report, figures };
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

const results = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, "utf8")) : {};
for (const key of VM_KEYS) delete results[key];
for (const key of [...VM_TARGETS.map(([k]) => k), ...VM_REPORTED])
  results[key] = loaded[sourceOf(key)].figures[key] ?? null;
results.vmReport = loaded.vm.file;
results.vmMeasuredAt = statSync(loaded.vm.file).mtime.toISOString();
results.vmKernel = loaded.vm.report.kernelRelease;
results.vmGuestNode = loaded.vm.report.guestNode;
results.bootReport = loaded.boot.file;
results.bootMeasuredAt = statSync(loaded.boot.file).mtime.toISOString();
writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

console.log(`merged from ${loaded.vm.file} and ${loaded.boot.file} into ${RESULTS}`);
for (const [key, value, target, ok] of vmRows(results)) {
  const status = value === null || value === undefined ? "missing" : ok(value) ? "met" : "MISSED";
  console.log([key.padEnd(30), String(value).padEnd(10), target.padEnd(10), status].join("  "));
}
console.log(VM_REPORTED.map((key) => `${key} ${results[key]}`).join("; "));
