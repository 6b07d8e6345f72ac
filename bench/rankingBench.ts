/**
 * Ranking cost: one decision (read modules.alias and modules.builtin.modinfo, find the
 * vfio_pci: candidates, rank them) over Debian's full modules.alias with the mainline
 * variant lines added, in-process. Run under `node --jitless`, as udev runs the helper.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { parseModalias } from "../src/alias/modalias.js";
import { rankCandidates } from "../src/alias/rankCandidates.js";
import { readVfioAliases } from "../src/kmod/readVfioAliases.js";

const fixtures = path.resolve(process.argv[2] ?? "test/fixtures");
const runs = Number(process.argv[3] ?? 200);
const debian = fs.readdirSync(fixtures).find((f) => /^debian-.*\.modules\.alias\.gz$/.test(f));
if (debian === undefined) throw new Error(`no Debian modules.alias fixture in ${fixtures}`);
const text =
  gunzipSync(fs.readFileSync(path.join(fixtures, debian))).toString("latin1") +
  fs.readFileSync(path.join(fixtures, "mainline-variants.modules.alias"), "latin1");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-bench-"));
fs.writeFileSync(path.join(dir, "modules.alias"), text);

const device = parseModalias("pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00");
const times: number[] = [];
let winner = "";
for (let i = 0; i < runs; i += 1) {
  const start = process.hrtime.bigint();
  const set = readVfioAliases(dir, { lineNumbers: false });
  const ranked = rankCandidates(device, set.aliases);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
  winner = ranked[0]?.module ?? "none";
}
fs.rmSync(dir, { recursive: true, force: true });
// The first decision is what one udev process pays (nothing warmed up yet).
const first = times[0] ?? Number.NaN;
times.sort((a, b) => a - b);
const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] as number;
process.stdout.write(
  `${JSON.stringify({ rankingMsMedian: at(0.5), rankingMsP90: at(0.9), rankingMsFirst: first, runs, bytes: text.length, winner, jitless: process.execArgv.includes("--jitless") })}\n`,
);
