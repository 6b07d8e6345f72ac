/**
 * Property tests of the generated rules against injection: whatever the claim files are called, wherever
 * the config directory is, and whatever selector values the parser accepts, the generated
 * rules (evaluated with the packaged 70-vfio-autobind.rules over a fake sysfs tree) start
 * the helper for the same devices as the same config under plain names, never for fewer
 * devices than the claims select, and hold no control character but the line ends.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeClaimFiles } from "../../src/config/claimConfig.js";
import { readPciDevice } from "../../src/sysfs/pciDevice.js";
import { selectClaim } from "../../src/policy/selectClaim.js";
import { vfAddresses } from "../../src/sysfs/sriovLayout.js";
import { controlCharacterAt } from "../../src/text/safeText.js";
import { generateClaimRules } from "../../src/rules/claimRules.js";
import { generatedRulesProblem } from "../../src/rules/generatedRulesCheck.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { evaluateRules } from "../../support/udevRuleEvaluator.js";

const STATIC_RULES = path.resolve(__dirname, "../../rules.d/70-vfio-autobind.rules");
const PF = "0000:3b:00.0";
const ABSENT_PF = "0000:99:00.0";
const VFS = vfAddresses(PF, 1, 1, 2);
const NUM_RUNS = 400;

let tree: FakeSysfs;
let work: string;
let addresses: string[];

beforeAll(() => {
  tree = FakeSysfs.create();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-injection-"));
  tree.addDevice({ address: PF, vendor: "15b3", device: "101d", sriov: { totalVfs: 2, numVfs: 2 } });
  for (const vf of VFS) tree.addDevice({ address: vf, vendor: "15b3", device: "101e", physfn: PF });
  tree.addDevice({ address: "0000:00:03.0", vendor: "1af4", device: "1041", subsystemDevice: "1100" });
  tree.addDevice({ address: "0000:00:04.0", vendor: "1b36", device: "0010", classCode: "010802" });
  tree.addDevice({ address: "0000:01:00.0", vendor: "10de", device: "2342", classCode: "030200" });
  addresses = [PF, ...VFS, "0000:00:03.0", "0000:00:04.0", "0000:01:00.0"];
});
afterAll(() => {
  tree.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

const vfAddressesOf = (pf: string): readonly string[] | null => (pf === PF ? VFS : null);

/** The devices udev would start the helper for, with these generated rules. */
function spawned(rules: string): string[] {
  const file = path.join(work, "69-vfio-autobind-claims.rules");
  fs.writeFileSync(file, rules);
  return addresses.filter(
    (address) =>
      evaluateRules([STATIC_RULES, file], { kernel: address, subsystem: "pci", dir: tree.deviceDir(address) }).run
        .length > 0,
  );
}

// Names and paths: any characters a Linux file name can hold (not "/", not NUL), with the
// pieces of udev syntax an attacker would use mixed in.
const injection = fc.constantFrom(
  '"',
  ", ",
  'RUN+="/bin/sh"',
  "\n",
  "\r",
  "\\",
  "{",
  "}",
  "$kernel",
  "%k",
  "#",
  "\u2028",
);
const nameChar = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 4 }).map((s) => s.replace(/[/\0]/g, "_")),
  injection,
);
const fileName = fc.array(nameChar, { minLength: 1, maxLength: 6 }).map((parts) => `${parts.join("")}.conf`);
const configDir = fc
  .array(fc.oneof(nameChar, fc.constant("/")), { maxLength: 6 })
  .map((parts) => `/${parts.join("").replace(/\0/g, "_")}`);

const selectorLine = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.constantFrom(
      "Address=0000:00:03.0",
      "Address=0000:3b:00.*",
      "Address=0000:0[01]:0?.0 0000:3b:00.2",
      "Ids=15b3:101e",
      "Ids=1af4:1041:1af4:1100 10de:2342",
      "Class=0x01",
      "Class=0x0302",
      `VfsOf=${PF}`,
      `VfsOf=${ABSENT_PF}`,
    ),
  },
  // any value at all: the parser decides; a config with errors generates nothing
  fc
    .tuple(fc.constantFrom("Address", "Ids", "Class", "VfsOf"), fc.string({ unit: "binary", maxLength: 16 }))
    .map(([key, value]) => `${key}=${value}`),
);
const section = fc.tuple(
  fc.constantFrom("[Claim]", "[Exclude]"),
  fc.array(selectorLine, { minLength: 1, maxLength: 2 }),
);
const claimFile = fc.tuple(fileName, fc.array(section, { minLength: 1, maxLength: 2 })).map(([name, sections]) => ({
  name,
  text: sections.map(([header, lines]) => [header, ...lines].join("\n")).join("\n"),
}));

describe("generated rules, whatever the names and values (property)", () => {
  it(`${NUM_RUNS} configs: the same devices get a RUN as under plain names, every claimed one included`, () => {
    let generated = 0;
    fc.assert(
      fc.property(fc.array(claimFile, { minLength: 1, maxLength: 3 }), configDir, (files, dir) => {
        const hostile = files.map((f) => ({ name: path.posix.join(dir, f.name), text: f.text }));
        const config = mergeClaimFiles(hostile);
        if (config.errors.length > 0) return; // apply and the helper refuse such a config
        // The same files under plain names, in the same order.
        const sorted = [...hostile].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const plain = mergeClaimFiles(
          sorted.map((f, i) => ({ name: `/etc/vfio-autobind/${10 + i}.conf`, text: f.text })),
        );
        const rules = generateClaimRules(config, "abc123", dir, vfAddressesOf);
        expect(controlCharacterAt(rules)).toBe(-1);
        expect(generatedRulesProblem(rules)).toBeNull();
        const runs = spawned(rules);
        expect(runs).toEqual(spawned(generateClaimRules(plain, "abc123", "/etc/vfio-autobind", vfAddressesOf)));
        // Never narrower than the helper's own decision: every claimed device starts it.
        const claimed = addresses.filter((a) => selectClaim(config, readPciDevice(tree.root, a)).kind === "claimed");
        expect(runs).toEqual(expect.arrayContaining(claimed));
        generated++;
      }),
      { numRuns: NUM_RUNS },
    );
    console.log(`rules property: ${NUM_RUNS} cases, ${generated} valid configs generated and evaluated`);
    expect(generated).toBeGreaterThan(NUM_RUNS / 2);
  }, 120_000);
});
