/**
 * The ranking compiled into udev rules gives the same module as rankCandidates
 * (udev's globs are fnmatch, but `|` is special to udev). The udev side is evaluated with
 * udev's semantics: the value split at `|`, each alternative matched with glibc's
 * fnmatch(3) with flags 0 (called through python3 ctypes), the last matching line's
 * assignment left standing.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanModulesAlias, type VfioAlias } from "../../src/alias/aliasRecords.js";
import { fnmatch, tokenizePattern } from "../../src/alias/fnmatch.js";
import { parseModalias } from "../../src/alias/modalias.js";
import { rankCandidates } from "../../src/alias/rankCandidates.js";
import { modulePolicyFrom, NO_MODULE_POLICY, type ModulePolicy } from "../../src/kmod/modulePolicy.js";
import {
  MAX_RANKING_LINES,
  RANKING_DIGEST_LENGTH,
  rankingRules,
  udevPatternProblem,
  type DriverOf,
} from "../../src/rules/rankingRules.js";
import { RULE_ENV } from "../../src/rules/ruleEnv.js";
import { renderRuleLine, tokenizeRules, UDEV_LINE_SIZE } from "../../src/rules/udevRuleSyntax.js";
import { controlCharacterAt } from "../../src/text/safeText.js";
import { debianModulesAlias, mainlineVariantsAlias } from "../../support/fixtures.js";
import { evaluateRuleTexts } from "../../support/udevRuleEvaluator.js";

const alias = (pattern: string, module: string, line = 1): VfioAlias => ({
  pattern,
  module,
  origin: { file: "t", line },
});

const forbid = (...modules: string[]): ModulePolicy =>
  modulePolicyFrom(modules.map((module) => ({ module, rule: "blacklist", where: "/etc/modprobe.d/t.conf:1" })));

const DRIVERS: Record<string, string> = {
  vfio_pci: "vfio-pci",
  mlx5_vfio_pci: "mlx5_vfio_pci",
  virtio_vfio_pci: "virtio_vfio_pci",
  hisi_acc_vfio_pci: "hisi_acc_vfio_pci",
  aaa_vfio_pci: "aaa-vfio-pci",
};
// Some modules have no known driver name (not loaded at apply time): the rules write "".
const driverOf: DriverOf = (module) => DRIVERS[module] ?? null;

/** Debian's vfio_pci lines and the mainline variant lines. */
const realAliases = (): VfioAlias[] => [
  ...scanModulesAlias(debianModulesAlias(), "debian.modules.alias").aliases,
  ...scanModulesAlias(mainlineVariantsAlias(), "mainline-variants.modules.alias").aliases,
];

/**
 * Aliases a distribution does not have, for what the real ones never exercise: ties on
 * wildcards and literals (same pattern, or different patterns), `?`, bracket expressions,
 * a `*` inside a field, a module with several aliases.
 */
const SYNTHETIC: VfioAlias[] = [
  alias("vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "aaa_vfio_pci"), // ties with virtio_vfio_pci: aaa first
  alias("vfio_pci:v*d*sv*sd*bc02sc00i*", "zz_class_vfio_pci"),
  alias("vfio_pci:v*d*sv*sd*bc02sc*i00", "yy_class_vfio_pci"), // same stars and literals as zz: yy first
  alias("vfio_pci:v000015B3d0000101?sv*sd*bc*sc*i*", "qm_vfio_pci"),
  alias("vfio_pci:v000015B3d0000101[E-F]sv*sd*bc*sc*i*", "br_vfio_pci"), // ties with qm: br first
  alias("vfio_pci:v000015B3d0000101Esv000015B3sd*bc*sc*i*", "sub_vfio_pci"),
  alias("vfio_pci:v000015B3d0000101Esv0000?5B3sd*bc*sc*i*", "subq_vfio_pci"),
  alias("vfio_pci:v00008086d*sv*sd*bc[!0]?sc*i*", "neg_vfio_pci"),
  alias("vfio_pci:v00001AF4d*sv*sd*bc*sc*i*", "virtio_vfio_pci"), // a second, broader alias of one module
  alias("vfio_pci:v00001AF4d0000104*sv*sd*bc*sc*i*", "star_vfio_pci"),
  alias("vfio_pci:v0000[0-1]AF4d0000104[1-2]sv[0-9A-F]???????sd*bc0[0-9]sc*i*", "mix_vfio_pci"),
];

// --- devices ----------------------------------------------------------------------------

/** mulberry32: a seeded generator, so every run tests the same devices. */
function randomSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX = "0123456789ABCDEF";
/** A modalias's fields in FIELDS order. */
const fieldValues = (parsed: ReturnType<typeof parseModalias>): string[] => [
  parsed.vendor,
  parsed.device,
  parsed.subsystemVendor,
  parsed.subsystemDevice,
  parsed.baseClass,
  parsed.subClass,
  parsed.progIf,
];

const FIELDS = [
  ["v", 8],
  ["d", 8],
  ["sv", 8],
  ["sd", 8],
  ["bc", 2],
  ["sc", 2],
  ["i", 2],
] as const;
const FIELD_PATTERN = /^vfio_pci:v(.+?)d(.+?)sv(.+?)sd(.+?)bc(.+?)sc(.+?)i(.+)$/;

const modaliasOf = (values: readonly string[]): string =>
  `pci:${FIELDS.map(([name], i) => `${name}${values[i] as string}`).join("")}`;

class Devices {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = randomSource(seed);
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  hex(width: number): string {
    let out = "";
    for (let i = 0; i < width; i += 1) out += this.pick([...HEX]);
    return out;
  }
  /** A value of `width` hex digits that `glob` matches, or null when none can be made. */
  fill(glob: string, width: number): string | null {
    const tokens = tokenizePattern(glob);
    const stars = tokens.filter((t) => t.kind === "any-run").length;
    const spare = width - (tokens.length - stars);
    if (spare < 0 || (stars === 0 && spare !== 0)) return null;
    // The spare width is shared out among the stars at random.
    const runs = Array.from({ length: stars }, () => 0);
    for (let i = 0; i < spare; i += 1) {
      const at = Math.floor(this.next() * stars);
      runs[at] = (runs[at] as number) + 1;
    }
    let out = "";
    let star = 0;
    for (const token of tokens) {
      if (token.kind === "literal") out += token.char;
      else if (token.kind === "any-one") out += this.hex(1);
      else if (token.kind === "any-run") out += this.hex(runs[star++] as number);
      else {
        const members = [...HEX].filter((c) => token.items.some((it) => it.from <= c && c <= it.to) !== token.negated);
        if (members.length === 0) return null;
        out += this.pick(members);
      }
    }
    return out;
  }
  /** Modaliases that match the alias (wildcards filled at random), or [] when its form is not a PCI modalias's. */
  matching(pattern: string, count: number): string[] {
    const fields = FIELD_PATTERN.exec(pattern);
    if (fields === null) return [];
    const out: string[] = [];
    for (let n = 0; n < count; n += 1) {
      const values = FIELDS.map(([, width], i) => this.fill(fields[i + 1] as string, width));
      if (values.some((v) => v === null)) return out;
      out.push(modaliasOf(values as string[]));
    }
    return out;
  }
  /** One hex digit of a pinned (not `*`) field changed: a device that almost matches. */
  nearMiss(pattern: string, matching: string): string {
    const fields = FIELD_PATTERN.exec(pattern);
    const parsed = parseModalias(matching);
    const current = fieldValues(parsed);
    const pinned = FIELDS.map((_, i) => i).filter((i) => fields !== null && fields[i + 1] !== "*");
    const field = pinned.length > 0 ? this.pick(pinned) : Math.floor(this.next() * FIELDS.length);
    const value = current[field] as string;
    const at = Math.floor(this.next() * value.length);
    const other = this.pick([...HEX].filter((c) => c !== value[at]));
    current[field] = `${value.slice(0, at)}${other}${value.slice(at + 1)}`;
    return modaliasOf(current);
  }
  /** A random device; one in two from a vendor that has variants, so that they sometimes win. */
  random(): string {
    const vendor = this.next() < 0.5 ? this.pick(["000015B3", "00001AF4", "000010DE", "00008086", "000019E5"]) : null;
    return modaliasOf(FIELDS.map(([, width], i) => (i === 0 && vendor !== null ? vendor : this.hex(width))));
  }
}

interface DeviceSet {
  readonly modaliases: string[];
  readonly matching: number;
  readonly nearMisses: number;
  readonly random: number;
}

function devicesFor(aliases: readonly VfioAlias[], seed: number, perAlias = 40, randomCount = 1500): DeviceSet {
  const gen = new Devices(seed);
  const modaliases: string[] = [];
  let matching = 0;
  let nearMisses = 0;
  for (const a of aliases) {
    const hits = gen.matching(a.pattern, perAlias);
    matching += hits.length;
    modaliases.push(...hits);
    for (const hit of hits) {
      modaliases.push(gen.nearMiss(a.pattern, hit));
      nearMisses += 1;
    }
  }
  for (let n = 0; n < randomCount; n += 1) modaliases.push(gen.random());
  return { modaliases, matching, nearMisses, random: randomCount };
}

// --- udev's side, with glibc's fnmatch ------------------------------------------------------

/** glibc's fnmatch(pattern, subject, 0) for every pair, computed once by python3 through ctypes. */
class GlibcFnmatch {
  private readonly table = new Map<string, Map<string, boolean>>();

  constructor(patterns: readonly string[], subjects: readonly string[]) {
    const ps = [...new Set(patterns)];
    const ss = [...new Set(subjects)];
    const script = [
      "import ctypes, json, sys",
      "libc = ctypes.CDLL(None)",
      "libc.fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]",
      "data = json.load(sys.stdin)",
      "subjects = [s.encode() for s in data['subjects']]",
      "out = []",
      "for p in data['patterns']:",
      "    pb = p.encode()",
      "    out.append(''.join('1' if libc.fnmatch(pb, s, 0) == 0 else '0' for s in subjects))",
      "print(json.dumps(out))",
    ].join("\n");
    const rows = JSON.parse(
      execFileSync("python3", ["-c", script], {
        input: JSON.stringify({ patterns: ps, subjects: ss }),
        maxBuffer: 256 * 1024 * 1024,
      }).toString(),
    ) as string[];
    ps.forEach((p, i) => {
      const row = rows[i] as string;
      this.table.set(p, new Map(ss.map((s, j) => [s, row[j] === "1"])));
    });
  }

  /** Throws for a pair not computed: every match must be glibc's. */
  readonly match = (pattern: string, subject: string): boolean => {
    const answer = this.table.get(pattern)?.get(subject);
    if (answer === undefined) throw new Error(`no glibc answer for ${pattern} against ${subject}`);
    return answer;
  };
}

/** The ENV{MODALIAS} alternatives of compiled lines, as udev splits them (never more than one, by construction). */
const udevAlternatives = (lines: readonly (readonly { key: string; attr: string | null; value: string }[])[]) =>
  lines.flatMap((tokens) => tokens.filter((t) => t.attr === "MODALIAS").flatMap((t) => t.value.split("|")));

interface Proof {
  readonly cases: number;
  readonly withWinner: number;
  readonly winners: Map<string, number>;
  readonly mismatches: string[];
}

/** For every device, rankCandidates' first allowed candidate against the module the compiled rules leave set. */
function prove(
  aliases: readonly VfioAlias[],
  policy: ModulePolicy,
  modaliases: readonly string[],
  glibc: GlibcFnmatch,
): Proof {
  const compiled = rankingRules(aliases, policy, driverOf);
  expect(compiled.problem).toBeNull();
  const text = `${compiled.lines.map(renderRuleLine).join("\n")}\n`;
  // The text reads back as the lines (what udev parses is what was compiled).
  expect(tokenizeRules(text).rules.map((r) => r.tokens)).toEqual(compiled.lines);
  const winners = new Map<string, number>();
  const mismatches: string[] = [];
  let withWinner = 0;
  for (const modalias of modaliases) {
    const expected = rankCandidates(parseModalias(modalias), aliases).find((c) => !policy.has(c.module)) ?? null;
    const { env } = evaluateRuleTexts(
      [{ name: "69-vfio-autobind-claims.rules", text }],
      { kernel: "0000:00:01.0", subsystem: "pci", dir: "/nonexistent", env: { MODALIAS: modalias } },
      "add",
      { fnmatch: glibc.match },
    );
    const got = { module: env[RULE_ENV.planModule] ?? null, driver: env[RULE_ENV.planDriver] ?? "" };
    const want =
      expected === null
        ? { module: null, driver: "" }
        : { module: expected.module, driver: driverOf(expected.module) ?? "" };
    if (got.module !== want.module || got.driver !== want.driver) {
      mismatches.push(`${modalias}: rules ${JSON.stringify(got)}, rankCandidates ${JSON.stringify(want)}`);
    }
    if (want.module !== null) {
      withWinner += 1;
      winners.set(want.module, (winners.get(want.module) ?? 0) + 1);
    }
  }
  return { cases: modaliases.length, withWinner, winners, mismatches };
}

// Case counts, printed for the report.
const counts: Record<string, number> = {};
afterAll(() => {
  console.log(`rankingRules equality cases: ${JSON.stringify(counts)}`);
});

describe("rankingRules: the compiled ranking is rankCandidates' ranking, as udev evaluates it", () => {
  const real = realAliases();
  const withSynthetic = [...real, ...SYNTHETIC];
  let realDevices: DeviceSet;
  let syntheticDevices: DeviceSet;
  let glibc: GlibcFnmatch;

  beforeAll(() => {
    realDevices = devicesFor(real, 14);
    syntheticDevices = devicesFor(withSynthetic, 15);
    const patterns = udevAlternatives(
      [real, withSynthetic].flatMap((set) => rankingRules(set, NO_MODULE_POLICY, driverOf).lines),
    );
    glibc = new GlibcFnmatch(patterns, [...realDevices.modaliases, ...syntheticDevices.modaliases]);
  });

  it("uses the real aliases: Debian's vfio_pci line and every mainline variant", () => {
    expect(real.filter((a) => a.origin.file === "debian.modules.alias").map((a) => a.module)).toEqual(["vfio_pci"]);
    expect(new Set(real.map((a) => a.module)).size).toBe(7);
    expect(realDevices.modaliases.length).toBeGreaterThan(2000);
  });

  it("agrees on the real aliases for every device (matching, near misses, random)", () => {
    const proof = prove(real, NO_MODULE_POLICY, realDevices.modaliases, glibc);
    counts["real"] = proof.cases;
    counts["realMatching"] = realDevices.matching;
    counts["realNearMisses"] = realDevices.nearMisses;
    counts["realRandom"] = realDevices.random;
    expect(proof.mismatches).toEqual([]);
    // Every module wins somewhere: the test looks at each variant, not only at vfio_pci.
    expect([...proof.winners.keys()].sort()).toEqual([...new Set(real.map((a) => a.module))].sort());
    // Some near misses fall through to a less specific module: they are real misses.
    const missed = realDevices.modaliases.filter(
      (m) => !real.some((a) => a.module !== "vfio_pci" && fnmatch(a.pattern, `vfio_${m}`)),
    );
    expect(missed.length).toBeGreaterThan(realDevices.nearMisses / 2);
  });

  it("agrees when a policy forbids the best variants, and when it forbids vfio_pci too", () => {
    const policies = [
      forbid("mlx5_vfio_pci", "virtio_vfio_pci", "nvgrace_gpu_vfio_pci", "qat_vfio_pci"),
      forbid("vfio_pci"),
      forbid("vfio_pci", "mlx5_vfio_pci", "hisi_acc_vfio_pci", "pds_vfio_pci"),
    ];
    let cases = 0;
    for (const policy of policies) {
      const proof = prove(real, policy, realDevices.modaliases, glibc);
      cases += proof.cases;
      expect(proof.mismatches).toEqual([]);
      for (const module of policy.keys()) expect(proof.winners.has(module)).toBe(false);
    }
    // With vfio_pci forbidden, a device no variant matches gets no module at all.
    const none = prove(real, forbid("vfio_pci"), realDevices.modaliases, glibc);
    expect(none.withWinner).toBeLessThan(none.cases);
    counts["realWithPolicies"] = cases;
  });

  it("agrees with ties on wildcards and literals, `?`, brackets and several aliases of one module", () => {
    const proof = prove(withSynthetic, NO_MODULE_POLICY, syntheticDevices.modaliases, glibc);
    counts["synthetic"] = proof.cases;
    expect(proof.mismatches).toEqual([]);
    // The ties are decided, and decided by module name: aaa over virtio, yy over zz, br over qm.
    expect(proof.winners.get("aaa_vfio_pci")).toBeGreaterThan(0);
    expect(proof.winners.has("virtio_vfio_pci")).toBe(true); // through its broader alias (d*)
    expect(proof.winners.get("yy_class_vfio_pci")).toBeGreaterThan(0);
    expect(proof.winners.get("br_vfio_pci")).toBeGreaterThan(0);
    for (const module of ["sub_vfio_pci", "subq_vfio_pci", "neg_vfio_pci", "star_vfio_pci", "mix_vfio_pci"])
      expect(proof.winners.get(module), module).toBeGreaterThan(0);
    const tie = parseModalias("pci:v00001AF4d00001041sv00001AF4sd00001100bc10sc00i00");
    const ranked = rankCandidates(tie, withSynthetic).map((c) => c.module);
    expect(ranked.slice(0, 2)).toEqual(["aaa_vfio_pci", "virtio_vfio_pci"]);
  });

  it("agrees on the ties when the winner of each tie is forbidden", () => {
    const policy = forbid("aaa_vfio_pci", "yy_class_vfio_pci", "br_vfio_pci", "sub_vfio_pci");
    const proof = prove(withSynthetic, policy, syntheticDevices.modaliases, glibc);
    counts["syntheticWithPolicy"] = proof.cases;
    expect(proof.mismatches).toEqual([]);
    expect(proof.winners.get("zz_class_vfio_pci")).toBeGreaterThan(0);
    expect(proof.winners.get("qm_vfio_pci")).toBeGreaterThan(0);
    expect(proof.winners.get("subq_vfio_pci")).toBeGreaterThan(0);
  });

  it("agrees on random alias sets built from the accepted glob forms", () => {
    const gen = new Devices(99);
    const sets: VfioAlias[][] = [];
    const fieldGlob = (value: string): string => {
      const r = gen.pick([0, 1, 2, 3, 4, 5]);
      if (r === 0) return "*";
      if (r === 1) return value;
      // Replace one digit by `?`, a bracket that holds it, or one that does not.
      const at = gen.pick([...Array(value.length).keys()]);
      const c = value[at] as string;
      const isDigit = c >= "0" && c <= "9";
      const piece =
        r === 2
          ? "?"
          : r === 3
            ? isDigit
              ? "[0-9]"
              : "[A-F]"
            : r === 4
              ? `[!${gen.pick([...HEX])}]`
              : `[${c}${gen.pick([...HEX])}]`;
      return `${value.slice(0, at)}${piece}${value.slice(at + 1)}`;
    };
    for (let s = 0; s < 40; s += 1) {
      const base = gen.random();
      const parsed = parseModalias(base);
      const values = fieldValues(parsed);
      const set: VfioAlias[] = [alias("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci")];
      for (let a = 0; a < 8; a += 1) {
        const pattern = `vfio_pci:${FIELDS.map(([name], i) => `${name}${fieldGlob(values[i] as string)}`).join("")}`;
        set.push(alias(pattern, `m${gen.pick(["a", "b", "c", "d", "e"])}_vfio_pci`, a));
      }
      for (const a of set) expect(udevPatternProblem(a.pattern), a.pattern).toBeNull();
      sets.push(set);
    }
    const devices = sets.map((set, i) => devicesFor(set, 1000 + i, 6, 20).modaliases);
    const setGlibc = new GlibcFnmatch(
      udevAlternatives(sets.flatMap((set) => rankingRules(set, NO_MODULE_POLICY, driverOf).lines)),
      devices.flat(),
    );
    let cases = 0;
    sets.forEach((set, i) => {
      const proof = prove(set, NO_MODULE_POLICY, devices[i] as string[], setGlibc);
      cases += proof.cases;
      expect(proof.mismatches).toEqual([]);
    });
    counts["randomSets"] = cases;
    expect(cases).toBeGreaterThan(1500);
  });
});

describe("rankingRules, the lines", () => {
  it("writes one line per alias, least specific first, the modalias pattern without vfio_", () => {
    const compiled = rankingRules(
      [
        alias("vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "virtio_vfio_pci"),
        alias("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci"),
        alias("vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "aaa_vfio_pci"),
      ],
      NO_MODULE_POLICY,
      driverOf,
    );
    expect(compiled.problem).toBeNull();
    expect(compiled.lines.map(renderRuleLine)).toEqual([
      'ENV{MODALIAS}=="pci:v*d*sv*sd*bc*sc*i*", ENV{VFIO_AUTOBIND_PLAN_MODULE}="vfio_pci", ENV{VFIO_AUTOBIND_PLAN_DRIVER}="vfio-pci"',
      'ENV{MODALIAS}=="pci:v00001AF4d00001041sv*sd*bc*sc*i*", ENV{VFIO_AUTOBIND_PLAN_MODULE}="virtio_vfio_pci", ENV{VFIO_AUTOBIND_PLAN_DRIVER}="virtio_vfio_pci"',
      'ENV{MODALIAS}=="pci:v00001AF4d00001041sv*sd*bc*sc*i*", ENV{VFIO_AUTOBIND_PLAN_MODULE}="aaa_vfio_pci", ENV{VFIO_AUTOBIND_PLAN_DRIVER}="aaa-vfio-pci"',
    ]);
    expect(compiled.digest).toMatch(new RegExp(`^[0-9a-f]{${RANKING_DIGEST_LENGTH}}$`));
  });

  it("leaves forbidden modules out, writes an unknown driver as empty, and asks for each driver once", () => {
    const asked: string[] = [];
    const compiled = rankingRules(
      [
        alias("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci"),
        alias("vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*", "mlx5_vfio_pci"),
        alias("vfio_pci:v000010DEd00002342sv*sd*bc*sc*i*", "nvgrace_gpu_vfio_pci"),
        alias("vfio_pci:v000010DEd00002345sv*sd*bc*sc*i*", "nvgrace_gpu_vfio_pci"),
      ],
      forbid("mlx5_vfio_pci"),
      (module) => {
        asked.push(module);
        return driverOf(module);
      },
    );
    expect(compiled.lines.map((l) => l[1]?.value)).toEqual([
      "vfio_pci",
      "nvgrace_gpu_vfio_pci",
      "nvgrace_gpu_vfio_pci",
    ]);
    expect(compiled.lines.map((l) => l[2]?.value)).toEqual(["vfio-pci", "", ""]);
    expect(asked.sort()).toEqual(["nvgrace_gpu_vfio_pci", "vfio_pci"]);
  });

  it("writes the same alias twice once (modules.alias and modules.builtin.modinfo)", () => {
    const generic = alias("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci");
    const once = rankingRules([generic], NO_MODULE_POLICY, driverOf);
    const twice = rankingRules(
      [generic, { ...generic, origin: { file: "modules.builtin.modinfo" } }],
      NO_MODULE_POLICY,
      driverOf,
    );
    expect(twice).toEqual(once);
  });

  it("changes its digest with the aliases, the policy and the driver names, and only then", () => {
    const aliases = realAliases();
    const base = rankingRules(aliases, NO_MODULE_POLICY, driverOf).digest;
    expect(rankingRules([...aliases].reverse(), NO_MODULE_POLICY, driverOf).digest).toBe(base);
    expect(rankingRules(aliases, forbid("not_a_vfio_module"), driverOf).digest).toBe(base);
    expect(rankingRules(aliases, forbid("mlx5_vfio_pci"), driverOf).digest).not.toBe(base);
    expect(
      rankingRules(aliases, NO_MODULE_POLICY, (m) => (m === "pds_vfio_pci" ? "pds-vfio-pci" : driverOf(m))).digest,
    ).not.toBe(base);
    expect(rankingRules(aliases.slice(0, -1), NO_MODULE_POLICY, driverOf).digest).not.toBe(base);
  });

  it("writes nothing, without a problem, when no alias is left", () => {
    expect(rankingRules([], NO_MODULE_POLICY, driverOf)).toMatchObject({ lines: [], problem: null });
    const onlyForbidden = rankingRules(
      [alias("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci")],
      forbid("vfio_pci"),
      driverOf,
    );
    expect(onlyForbidden).toMatchObject({ lines: [], problem: null });
  });
});

describe("rankingRules refuses what udev would read otherwise, and compiles nothing then", () => {
  const generic = alias("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci");

  it.each([
    ["a |", "vfio_pci:v00001AF4d*sv*sd*bc*sc*i*|pci:*", /a \| \(udev reads it as between two alternatives\)/],
    ["a double quote", 'vfio_pci:v00001AF4d*sv*sd*bc*sc*i*",RUN+="/bin/sh', /a double quote/],
    ["a backslash", "vfio_pci:v00001AF4d\\*sv*sd*bc*sc*i*", /a backslash/],
    ["a space", "vfio_pci:v00001AF4d* sv*sd*bc*sc*i*", /whitespace/],
    ["a $", "vfio_pci:v$kernel", /a \$ \(udev substitution\)/],
    ["a %", "vfio_pci:v%k", /a % \(udev substitution\)/],
    ["a newline", 'vfio_pci:v*\nRUN+="x"', /whitespace/],
    ["a control character", "vfio_pci:v*\u001b[2J", /a control character/],
    ["a brace", "vfio_pci:v*}", /the character "}"/],
    ["a character class", "vfio_pci:v[[:digit:]]*", /bracket expression/],
    ["a ^ negation", "vfio_pci:v[^0]*", /bracket expression/],
    ["a range across kinds", "vfio_pci:v[0-F]*", /bracket expression/],
    ["an unclosed bracket", "vfio_pci:v[0*", /bracket expression/],
    ["a reversed range", "vfio_pci:v[9-0]*", /bracket range 9-0 is reversed/],
    ["another prefix", "usb:v*", /does not start with vfio_pci:/],
    ["an over-long pattern", `vfio_pci:${"?".repeat(600)}`, /is 609 characters long, more than the 512 allowed/],
  ])("an alias with %s", (_what, pattern, reason) => {
    const compiled = rankingRules([generic, alias(pattern, "evil_vfio_pci", 7)], NO_MODULE_POLICY, driverOf);
    expect(compiled.lines).toEqual([]);
    expect(compiled.problem).toMatch(reason);
    expect(compiled.problem).toMatch(/\(t:7\)/);
    expect(compiled.problem).toMatch(/left to the helper$/);
    expect(controlCharacterAt(compiled.problem as string)).toBe(-1);
    expect(compiled.digest).toMatch(/^[0-9a-f]{16}$/);
  });

  it("shows why a | cannot be written: udev would let that alias win for every device", () => {
    // What udev would do with the line, evaluated with its semantics: the alternative pci:* matches anything.
    const line = 'ENV{MODALIAS}=="pci:v0000ABCDd*sv*sd*bc*sc*i*|pci:*", ENV{VFIO_AUTOBIND_PLAN_MODULE}="evil_vfio_pci"';
    const { env } = evaluateRuleTexts([{ name: "t.rules", text: line }], {
      kernel: "0000:00:01.0",
      subsystem: "pci",
      dir: "/nonexistent",
      env: { MODALIAS: "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00" },
    });
    expect(env[RULE_ENV.planModule]).toBe("evil_vfio_pci");
    expect(
      fnmatch("vfio_pci:v0000ABCDd*sv*sd*bc*sc*i*|pci:*", "vfio_pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00"),
    ).toBe(false);
  });

  it("refuses a module name or a driver name the rules cannot carry", () => {
    const badModule = rankingRules(
      [generic, alias("vfio_pci:v*d*sv*sd*bc*sc*i0", 'x",RUN+="y')],
      NO_MODULE_POLICY,
      driverOf,
    );
    expect(badModule.lines).toEqual([]);
    expect(badModule.problem).toMatch(/module name .* is not one the rules can load/);
    for (const driver of ['vfio-pci", RUN+="/bin/sh', "vfio pci", "$env{X}", "-x", "a".repeat(65), "x\n"]) {
      const compiled = rankingRules([generic], NO_MODULE_POLICY, () => driver);
      expect(compiled.lines, driver).toEqual([]);
      expect(compiled.problem).toMatch(/PCI driver name .* cannot be written/);
      expect(controlCharacterAt(compiled.problem as string)).toBe(-1);
    }
  });

  it("ignores a hostile alias of a forbidden module: it is never a candidate", () => {
    const compiled = rankingRules(
      [generic, alias("vfio_pci:v*|*", "evil_vfio_pci")],
      forbid("evil_vfio_pci"),
      driverOf,
    );
    expect(compiled.problem).toBeNull();
    expect(compiled.lines.length).toBe(1);
  });

  it("accepts the glob forms it can prove: ?, *, [..] of letters, digits and same-kind ranges, [!..]", () => {
    for (const pattern of [
      "vfio_pci:v*d*sv*sd*bc*sc*i*",
      "vfio_pci:v0000?AF4d*sv*sd*bc*sc*i*",
      "vfio_pci:v0000[0-9A-F]AF4d[!0]*sv*sd*bc0[1-2]sc*i*",
      "vfio_pci:v0000[a-f]AF4d*",
      "vfio_pci:v0000]AF4",
    ]) {
      expect(udevPatternProblem(pattern), pattern).toBeNull();
    }
  });
});

describe("rankingRules on a hostile alias set: safe lines or a problem, in bounded time", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-ranking-"));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Every line renders, reads back as itself and stays under udev's line limit. */
  function expectSafe(compiled: ReturnType<typeof rankingRules>): void {
    if (compiled.problem !== null) {
      expect(compiled.lines).toEqual([]);
      expect(controlCharacterAt(compiled.problem)).toBe(-1);
      expect(compiled.problem.length).toBeLessThan(1024);
      return;
    }
    expect(compiled.lines.length).toBeLessThanOrEqual(MAX_RANKING_LINES);
    const text = compiled.lines.map(renderRuleLine).join("\n");
    const read = tokenizeRules(text);
    expect(read.errors).toEqual([]);
    expect(read.rules.map((r) => r.tokens)).toEqual(compiled.lines);
    for (const rule of read.rules) expect(rule.text.length).toBeLessThan(UDEV_LINE_SIZE);
  }

  it("150,000 distinct alias lines: refused as not a kernel's index", () => {
    const lines: string[] = ["alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci"];
    for (let n = 0; n < 150_000; n += 1) {
      const id = n.toString(16).toUpperCase().padStart(8, "0");
      lines.push(`alias vfio_pci:v${id}d*sv*sd*bc*sc*i* m${n % 50}_vfio_pci`);
    }
    const text = lines.join("\n");
    fs.writeFileSync(path.join(dir, "modules.alias"), text);
    const { aliases } = scanModulesAlias(fs.readFileSync(path.join(dir, "modules.alias"), "latin1"));
    expect(aliases.length).toBe(150_001);
    const compiled = rankingRules(aliases, NO_MODULE_POLICY, driverOf);
    expectSafe(compiled);
    expect(compiled.problem).toMatch(/more than 4096 distinct vfio aliases/);
  });

  it("150,000 copies of one line: one line", () => {
    const text = Array.from({ length: 150_000 }, () => "alias vfio_pci:v00001AF4d*sv*sd*bc*sc*i* virtio_vfio_pci").join(
      "\n",
    );
    const compiled = rankingRules(scanModulesAlias(text).aliases, NO_MODULE_POLICY, driverOf);
    expectSafe(compiled);
    expect(compiled.lines.length).toBe(1);
  });

  it("150,000 lines of which the last has a |: refused", () => {
    const aliases = Array.from({ length: 150_000 }, (_, n) =>
      alias(`vfio_pci:v${(n % 4000).toString(16).padStart(8, "0").toUpperCase()}d*`, "m_vfio_pci", n),
    );
    aliases.push(alias("vfio_pci:v*|pci:*", "evil_vfio_pci", 150_001));
    const compiled = rankingRules(aliases, NO_MODULE_POLICY, driverOf);
    expectSafe(compiled);
    expect(compiled.problem).toMatch(/t:150001.*a \|/);
  });

  it("a 1 MB pattern: refused, the message bounded", () => {
    const compiled = rankingRules(
      [alias(`vfio_pci:${"*v".repeat(512 * 1024)}`, "evil_vfio_pci")],
      NO_MODULE_POLICY,
      driverOf,
    );
    expectSafe(compiled);
    expect(compiled.problem).toMatch(/more than the 512 allowed/);
  });

  it("a 1 MB modules.alias line with a | inside the pattern is skipped by the scan, or refused", () => {
    const text = `alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\nalias vfio_pci:${"?".repeat(1 << 20)}|* evil_vfio_pci\nalias vfio_pci:v0000AAAA|*d* evil_vfio_pci\n`;
    const compiled = rankingRules(scanModulesAlias(text).aliases, NO_MODULE_POLICY, driverOf);
    expectSafe(compiled);
    expect(compiled.problem).toMatch(/a \|/);
  });
});
