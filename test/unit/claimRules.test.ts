import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseClaimFile, type ClaimConfig } from "../../src/config/claimConfig.js";
import { RuntimeFailure } from "../../src/errors.js";
import { vfAddresses } from "../../src/sysfs/sriovLayout.js";
import { claimMark } from "../../src/rules/claimMark.js";
import { generateClaimRules } from "../../src/rules/claimRules.js";
import { generatedRulesProblem } from "../../src/rules/generatedRulesCheck.js";
import { digestOfRules, otherGeneratorReason } from "../../src/rules/rulesHeader.js";
import { VERSION } from "../../src/version.js";
import { controlCharacterAt } from "../../src/text/safeText.js";
import { tokenizeRules } from "../../src/rules/udevRuleSyntax.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { evaluateRules } from "../../support/udevRuleEvaluator.js";
import { plainClaim } from "../support/plainClaim.js";

const STATIC_RULES = path.resolve(__dirname, "../../rules.d/70-vfio-autobind.rules");

/** The claims' section: what marks devices, up to its end label (the hold and ownership follow). */
const claimsSection = (text: string): string => {
  const end = 'LABEL="vfio_autobind_claims_end"';
  return text.slice(0, text.indexOf(end) + end.length);
};

const rulesFor = (text: string, vfs: Record<string, string[]> = {}): string[] => {
  const config = parseClaimFile(text, "/etc/vfio-autobind/c.conf");
  expect(config.errors).toEqual([]);
  return claimsSection(generateClaimRules(config, "abc123", "/etc/vfio-autobind", (pf) => vfs[pf] ?? null))
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
};

describe("generateClaimRules", () => {
  it("turns selectors into udev matches, one line per id, exclusions first", () => {
    expect(
      rulesFor(
        "[Claim]\nAddress=0000:3b:00.* 0000:5e:00.1\nIds=15b3:101e 10de:2342:10de:16eb\nClass=0x02\n[Exclude]\nAddress=0000:3b:00.7",
      ),
    ).toEqual([
      'ACTION!="add", GOTO="vfio_autobind_claims_end"',
      'SUBSYSTEM!="pci", GOTO="vfio_autobind_claims_end"',
      'KERNEL=="0000:3b:00.7", GOTO="vfio_autobind_claims_end"',
      `KERNEL=="0000:3b:00.*|0000:5e:00.1", ATTR{class}=="0x02????", ATTR{vendor}=="0x15b3", ATTR{device}=="0x101e", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"`,
      `KERNEL=="0000:3b:00.*|0000:5e:00.1", ATTR{class}=="0x02????", ATTR{vendor}=="0x10de", ATTR{device}=="0x2342", ATTR{subsystem_vendor}=="0x10de", ATTR{subsystem_device}=="0x16eb", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"`,
      'LABEL="vfio_autobind_claims_end"',
    ]);
  });

  it("names the VFs of a PF by address, before they exist", () => {
    expect(rulesFor("[Claim]\nVfsOf=0000:3b:00.0", { "0000:3b:00.0": ["0000:3b:00.2", "0000:3b:00.3"] })[2]).toBe(
      `KERNEL=="0000:3b:00.2|0000:3b:00.3", TEST=="physfn", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"`,
    );
  });

  it("falls back to marking any VF when the PF's layout is unknown, and holds none of them", () => {
    expect(rulesFor("[Claim]\nVfsOf=0000:3b:00.0")[2]).toBe(
      `TEST=="physfn", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"`,
    );
    const config = parseClaimFile("[Claim]\nVfsOf=0000:3b:00.0", "/etc/vfio-autobind/c.conf");
    const text = generateClaimRules(config, "abc123", "/etc/vfio-autobind", () => null);
    expect(text).toContain(`ENV{VFIO_AUTOBIND_CLAIM}=="/etc/vfio-autobind/c.conf:1", GOTO="vfio_autobind_decide_end"`);
  });

  it("records the config digest it was made from", () => {
    const config = parseClaimFile("[Claim]\nAddress=0000:3b:00.2", "c.conf");
    expect(digestOfRules(generateClaimRules(config, "d1g35t", "/etc/vfio-autobind", () => null))).toBe("d1g35t");
    expect(digestOfRules("# some other rules\n")).toBeNull();
  });
});

describe("vfAddresses", () => {
  it("follows the PF's routing id by offset and stride, across device and bus numbers", () => {
    expect(vfAddresses("0000:3b:00.0", 2, 1, 3)).toEqual(["0000:3b:00.2", "0000:3b:00.3", "0000:3b:00.4"]);
    // Intel NICs: offset 128, stride 2 puts VFs on later device numbers
    expect(vfAddresses("0000:18:00.0", 128, 2, 2)).toEqual(["0000:18:10.0", "0000:18:10.2"]);
    // crossing into the next bus
    expect(vfAddresses("0000:01:00.0", 255, 1, 2)).toEqual(["0000:01:1f.7", "0000:02:00.0"]);
    // QEMU's NVMe PF at 01:00.0 with offset 1, stride 1
    expect(vfAddresses("0000:01:00.0", 1, 1, 2)).toEqual(["0000:01:00.1", "0000:01:00.2"]);
  });
});

/** Every key=op a rules text assigns or matches, as udev reads it. */
const keysOf = (text: string): string[] =>
  tokenizeRules(text).rules.flatMap((r) =>
    r.tokens.map((t) => `${t.key}${t.attr === null ? "" : `{${t.attr}}`}${t.op}`),
  );

const GENERATED_KEYS = new Set([
  "ACTION!=",
  "SUBSYSTEM!=",
  "GOTO=",
  "KERNEL==",
  "TEST==",
  "ATTR{class}==",
  "ATTR{vendor}==",
  "ATTR{device}==",
  "ATTR{subsystem_vendor}==",
  "ATTR{subsystem_device}==",
  "ENV{VFIO_AUTOBIND_CLAIM}=",
  "ENV{VFIO_AUTOBIND_PLAN}=",
  "ENV{VFIO_AUTOBIND_CLAIM}==",
  "LABEL=",
]);

describe("generated rules cannot be injected into", () => {
  const hostileNames = [
    '/etc/vfio-autobind/a", RUN+="/bin/sh -c id", ENV{X}="b.conf',
    '/etc/vfio-autobind/a\nRUN+="/bin/sh".conf'.replace("\\n", "\n"),
    "/etc/vfio-autobind/line\rbreak\u0000nul\u2028sep $kernel %k.conf",
    "/etc/vfio-autobind/back\\slash\\.conf",
  ];

  it.each(hostileNames)("a claim file named %j adds no key and stays one rule", (name) => {
    const config = parseClaimFile("[Claim]\nAddress=0000:3b:00.2\n[Exclude]\nAddress=0000:3b:00.7", name);
    const text = generateClaimRules(config, "abc123", "/etc/vfio-autobind", () => null);
    expect(keysOf(claimsSection(text)).every((k) => GENERATED_KEYS.has(k))).toBe(true);
    expect(tokenizeRules(claimsSection(text)).rules).toHaveLength(5);
    expect(controlCharacterAt(text)).toBe(-1);
    expect(generatedRulesProblem(text)).toBeNull();
  });

  it("a config directory with a newline and quotes in its path stays inside the header comment", () => {
    const config = parseClaimFile("[Claim]\nAddress=0000:3b:00.2", "c.conf");
    const text = generateClaimRules(config, "abc123", '/etc/x\nRUN+="/bin/sh"\n#', () => null);
    expect(keysOf(text)).not.toContain("RUN+=");
    expect(text.split("\n")[0]).toBe(
      '# Generated by "vfio-autobind apply" from /etc/x\\x0aRUN+="/bin/sh"\\x0a#. Do not edit: change the',
    );
  });

  it("marks a claim from a hostile file name with a strictly safe value", () => {
    expect(claimMark({ file: "/etc/vfio-autobind/50-claim-0000_3b_00.2.conf", line: 3 })).toBe(
      "/etc/vfio-autobind/50-claim-0000_3b_00.2.conf:3",
    );
    expect(claimMark({ file: '/etc/a", RUN+="x', line: 1 })).toBe("/etc/a_22_2c_20RUN+_3d_22x:1");
    expect(claimMark({ file: `/etc/${"x".repeat(5000)}`, line: 7 })).toMatch(/^\/etc\/x+\.\.\.:7$/);
    expect(claimMark({ file: `/etc/${"x".repeat(5000)}`, line: 7 }).length).toBeLessThanOrEqual(256);
  });

  it("refuses selector values the parser would not have produced, instead of writing them", () => {
    const forged = (selectors: Partial<ClaimConfig["claims"][number]["selectors"]>): ClaimConfig => ({
      claims: [
        plainClaim({ file: "c.conf", line: 1 }, { addresses: [], ids: [], classes: [], vfsOf: [], ...selectors }),
      ],
      exclusions: [],
      errors: [],
    });
    for (const config of [
      forged({ addresses: ['0000:3b:00.2", RUN+="/bin/sh'] }),
      forged({ addresses: ['0000:3b:00.2\nRUN+="x"'] }),
      forged({ classes: ['02", RUN+="x'] }),
      forged({ ids: [{ vendor: '15b3"', device: "101e" }] }),
      forged({ vfsOf: ["0000:3b:00.0 "] }),
    ]) {
      expect(() => generateClaimRules(config, "abc123", "/etc/vfio-autobind", () => null)).toThrow(RuntimeFailure);
    }
    expect(() =>
      generateClaimRules(forged({ vfsOf: ["0000:3b:00.0"] }), "abc123", "/e", () => ['0000:3b:00.1", RUN+="x']),
    ).toThrow(/unexpected VF address/);
  });

  it("splits a long list of VF addresses so that no line reaches udev's 16 KiB limit", () => {
    const many = vfAddresses("0000:3b:00.0", 1, 1, 2000);
    const text = generateClaimRules(
      parseClaimFile("[Claim]\nVfsOf=0000:3b:00.0", "c.conf"),
      "abc123",
      "/etc/vfio-autobind",
      () => many,
    );
    expect(tokenizeRules(text).errors).toEqual([]);
    const kernel = tokenizeRules(text).rules.flatMap((r) => r.tokens.filter((t) => t.key === "KERNEL"));
    expect(kernel.length).toBeGreaterThan(1);
    expect(kernel.flatMap((t) => t.value.split("|"))).toEqual(many);
  });
});

describe("no claim is dropped by udev's line limit", () => {
  it("splits a long list of classes too", () => {
    const classes = Array.from({ length: 2000 }, (_, i) => `0x${(i + 0x100).toString(16).padStart(4, "0")}`);
    const text = generateClaimRules(
      parseClaimFile(`[Claim]\nClass=${classes.join(" ")}\nIds=15b3:101e 1af4:1041`, "c.conf"),
      "abc123",
      "/etc/vfio-autobind",
      () => null,
    );
    const read = tokenizeRules(claimsSection(text));
    expect(read.errors).toEqual([]);
    const classTokens = read.rules.flatMap((r) => r.tokens.filter((t) => t.attr === "class"));
    expect(classTokens.length).toBeGreaterThan(2); // several chunks, each with both ids
    expect(new Set(classTokens.flatMap((t) => t.value.split("|"))).size).toBe(2000);
  });

  it("an address glob the parser would refuse never reaches a rule: nothing is written", () => {
    // The parser caps Address= globs (4 stars, 64 characters); the generator checks again.
    const glob = `0000:3b:00.${"*".repeat(5000)}`;
    const parsed = parseClaimFile(`[Exclude]\nAddress=0000:3b:00.*\n`, "c.conf");
    const widened = parsed.exclusions.map((e) => ({ ...e, selectors: { ...e.selectors, addresses: [glob] } }));
    expect(() =>
      generateClaimRules({ claims: [], exclusions: widened }, "abc123", "/etc/vfio-autobind", () => null),
    ).toThrow(/^c\.conf:1: Address=.* is not a valid selector; no udev rules were written$/);
  });
});

describe("one exclusion does not widen to other claims' devices", () => {
  let tree: FakeSysfs;
  let work: string;
  const PF = "0000:3b:00.0";
  const OTHER = "0000:5e:00.0";
  const vfs = vfAddresses(PF, 1, 1, 3);
  beforeAll(() => {
    tree = FakeSysfs.create();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-rules-"));
    tree.addDevice({ address: PF, vendor: "15b3", device: "101d", sriov: { totalVfs: 3, numVfs: 3 } });
    for (const vf of vfs) tree.addDevice({ address: vf, vendor: "15b3", device: "101e", physfn: PF });
    // Not a VF, at an address the absent PF's VFs would take.
    tree.addDevice({ address: OTHER, vendor: "15b3", device: "101e" });
  });
  afterAll(() => {
    tree.remove();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const spawned = (configText: string, vfsOf: Record<string, readonly string[]>): string[] => {
    const config = parseClaimFile(configText, "/etc/vfio-autobind/c.conf");
    expect(config.errors).toEqual([]);
    const rulesFile = path.join(work, "69-vfio-autobind-claims.rules");
    fs.writeFileSync(
      rulesFile,
      generateClaimRules(config, "abc123", "/etc/vfio-autobind", (pf) => vfsOf[pf] ?? null),
    );
    return [PF, ...vfs, OTHER].filter(
      (address) =>
        evaluateRules([STATIC_RULES, rulesFile], { kernel: address, subsystem: "pci", dir: tree.deviceDir(address) })
          .run.length > 0,
    );
  };

  it("an exclusion of the VFs of an absent PF leaves the VFs other claims select to them", () => {
    expect(spawned("[Claim]\nIds=15b3:101e\n[Exclude]\nVfsOf=0000:99:00.0", {})).toEqual([...vfs, OTHER]);
    const text = generateClaimRules(
      parseClaimFile("[Exclude]\nVfsOf=0000:99:00.0", "c.conf"),
      "abc123",
      "/etc/vfio-autobind",
      () => null,
    );
    expect(text).toContain(
      "# [Exclude] c.conf:1: left to the helper (the VF addresses of 0000:99:00.0 are not known now)",
    );
    expect(keysOf(claimsSection(text))).not.toContain("TEST==");
  });

  it("an exclusion of the VFs of a PF skips only VFs, not another device at a listed address", () => {
    expect(spawned("[Claim]\nIds=15b3:101e\n[Exclude]\nVfsOf=0000:99:00.0", { "0000:99:00.0": [OTHER] })).toEqual([
      ...vfs,
      OTHER,
    ]);
    expect(spawned("[Claim]\nIds=15b3:101e\n[Exclude]\nVfsOf=0000:3b:00.0", { [PF]: vfs })).toEqual([OTHER]);
  });

  it("a claim of the VFs of a PF whose layout is unknown marks every VF (the helper checks)", () => {
    expect(spawned("[Claim]\nVfsOf=0000:3b:00.0", {})).toEqual(vfs);
  });
});

describe("generatedRulesProblem (what check flags)", () => {
  const generated = generateClaimRules(
    parseClaimFile("[Claim]\nAddress=0000:3b:00.2\n[Exclude]\nAddress=0000:3b:00.7", "c.conf"),
    "abc123",
    "/etc/vfio-autobind",
    () => null,
  );
  const lineOf = (text: string, needle: string): number => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

  it("accepts what generateClaimRules writes", () => {
    expect(generatedRulesProblem(generated)).toBeNull();
  });

  it.each([
    [
      "a RUN added by hand",
      (t: string) =>
        t.replace('ENV{VFIO_AUTOBIND_CLAIM}="c.conf:1"', 'ENV{VFIO_AUTOBIND_CLAIM}="c.conf:1", RUN+="/bin/sh"'),
    ],
    [
      "a PROGRAM without separators",
      (t: string) =>
        t.replace(
          'KERNEL=="0000:3b:00.7", GOTO="vfio_autobind_claims_end"',
          'KERNEL=="0000:3b:00.7", GOTO="vfio_autobind_claims_end"PROGRAM="/bin/x"',
        ),
    ],
    [
      "a continued line",
      (t: string) => t.replace('KERNEL=="0000:3b:00.2", ', 'KERNEL=="0000:3b:00.2", \\\nIMPORT{program}="x", '),
    ],
    ["an unterminated value", (t: string) => t.replace('KERNEL=="0000:3b:00.2"', 'KERNEL=="0000:3b:00.2')],
    ["an escaped quote", (t: string) => t.replace('KERNEL=="0000:3b:00.2"', 'KERNEL=="0000:3b:00.2\\", RUN+=\\"x"')],
    ["a carriage return", (t: string) => t.replace('KERNEL=="0000:3b:00.2", ', 'KERNEL=="0000:3b:00.2", \rRUN+="x", ')],
    [
      "a GOTO elsewhere",
      (t: string) => t.replace('KERNEL=="0000:3b:00.7", GOTO="vfio_autobind_claims_end"', 'GOTO="elsewhere"'),
    ],
  ])("flags %s, on its line", (_what, edit) => {
    const edited = edit(generated);
    expect(edited).not.toBe(generated);
    const problem = generatedRulesProblem(edited);
    expect(problem).not.toBeNull();
    expect(problem?.line).toBeGreaterThan(5);
    expect(problem?.line).toBeLessThanOrEqual(lineOf(generated, "LABEL="));
  });
});

describe("the generator's version in the header", () => {
  const rules = (): string =>
    generateClaimRules({ claims: [], exclusions: [] }, "0123abcd", "/etc/vfio-autobind", () => []);

  it("names this version, and rules written by another version or before the header named one are another's", () => {
    const text = rules();
    expect(text).toContain(`# generator: vfio-autobind ${VERSION}\n`);
    expect(otherGeneratorReason(text)).toBeNull();
    expect(otherGeneratorReason(text.replace(`vfio-autobind ${VERSION}`, "vfio-autobind 0.0.9"))).toBe(
      `written by vfio-autobind 0.0.9, this is ${VERSION}`,
    );
    expect(otherGeneratorReason(text.replace(/^# generator: .*\n/m, ""))).toBe(
      `written by an older vfio-autobind, this is ${VERSION}`,
    );
    expect(generatedRulesProblem(text)).toBeNull();
  });
});
