// npm run bench: builds each benchmark into one file, runs it the way udev would
// (node --jitless), and writes bench/results.json plus a table. Every figure is measured
// in the same run as what it is compared with; none of this is part of npm test.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";

mkdirSync("dist/bench", { recursive: true });
await build({
  entryPoints: ["bench/rankingBench.ts"],
  outfile: "dist/bench/rankingBench.cjs",
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  logLevel: "warning",
});

const run = (file, args) =>
  JSON.parse(execFileSync(process.execPath, ["--jitless", "--no-expose-wasm", file, ...args], { encoding: "utf8" }));

const ranking = run("dist/bench/rankingBench.cjs", ["test/fixtures", "300"]);
const results = { rankingMsMedian: Number(ranking.rankingMsMedian.toFixed(3)), rankingMsP90: Number(ranking.rankingMsP90.toFixed(3)), rankingMsFirst: Number(ranking.rankingMsFirst.toFixed(3)) };
writeFileSync("bench/results.json", `${JSON.stringify(results, null, 2)}\n`);

const rows = [["rankingMsMedian", results.rankingMsMedian, "< 5 ms", results.rankingMsMedian < 5 ? "met" : "MISSED"]];
console.log(["key".padEnd(20), "value".padEnd(10), "target".padEnd(10), "status"].join("  "));
for (const [key, value, target, status] of rows) console.log([key.padEnd(20), String(value).padEnd(10), target.padEnd(10), status].join("  "));
console.log(`(ranking: first decision ${results.rankingMsFirst} ms, p90 ${results.rankingMsP90} ms over ${ranking.runs} runs, ${ranking.bytes} bytes of modules.alias, winner ${ranking.winner})`);
