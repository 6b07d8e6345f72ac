// Merges the real-kernel suite's driverctl comparison into bench/results.json:
//
//   npm run test:vm                       # writes <run>/report.json (as root; see test/vm/README.md)
//   node bench/vmResults.mjs [REPORT]     # REPORT: that report.json; by default the newest run's
//                                         # under ${VFIO_AUTOBIND_VM_CACHE:-/var/tmp/vfio-autobind-vm}/runs
//
// It copies the keys of bench/vmKeys.mjs from the report's `driverctl.figures` (computed by
// test/vm/host/driverctlFigures.ts), adds where they came from, leaves every other key as it
// is, and prints the keys with their targets. `npm run bench` keeps these keys when it
// rewrites the file, so the order of the two does not matter.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VM_KEYS, VM_REPORTED, vmRows } from "./vmKeys.mjs";

const RESULTS = "bench/results.json";

function newestReport() {
  const runs = join(process.env.VFIO_AUTOBIND_VM_CACHE ?? "/var/tmp/vfio-autobind-vm", "runs");
  // Run directories are ISO time stamps: the last in order is the newest.
  const withReport = (existsSync(runs) ? readdirSync(runs) : [])
    .sort()
    .map((dir) => join(runs, dir, "report.json"))
    .filter((file) => existsSync(file));
  if (withReport.length === 0) throw new Error(`no report.json under ${runs}: run npm run test:vm first`);
  return withReport[withReport.length - 1];
}

function fail(message) {
  console.error(`bench/vmResults.mjs: ${message}`);
  process.exit(1);
}

let reportFile;
let report;
try {
  reportFile = process.argv[2] ?? newestReport();
  report = JSON.parse(readFileSync(reportFile, "utf8"));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
const figures = report.driverctl?.figures;
if (figures === undefined || figures === null)
  fail(`${reportFile}: no driverctl figures (the comparison boots did not run, or a scenario threw)`);

const results = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, "utf8")) : {};
for (const key of VM_KEYS) delete results[key];
for (const [key] of vmRows(figures)) results[key] = figures[key] ?? null;
for (const key of VM_REPORTED) results[key] = figures[key] ?? null;
results.vmReport = reportFile;
results.vmMeasuredAt = statSync(reportFile).mtime.toISOString();
results.vmKernel = report.kernelRelease;
results.vmGuestNode = report.guestNode;
writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

console.log(`merged from ${reportFile} into ${RESULTS}`);
for (const [key, value, target, ok] of vmRows(results)) {
  const status = value === null || value === undefined ? "missing" : ok(value) ? "met" : "MISSED";
  console.log([key.padEnd(30), String(value).padEnd(10), target.padEnd(10), status].join("  "));
}
console.log(VM_REPORTED.map((key) => `${key} ${results[key]}`).join("; "));
