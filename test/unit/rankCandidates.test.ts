import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scanModulesAlias, type VfioAlias } from "../../src/alias/aliasRecords.js";
import { parseModalias } from "../../src/alias/modalias.js";
import { compareCandidates, rankCandidates, whyRanksBelow } from "../../src/alias/rankCandidates.js";
import { debianModulesAlias, mainlineVariantsAlias } from "../../support/fixtures.js";

const modalias = (vendor: string, device: string, sv: string, sd: string, cls = "020000") =>
  parseModalias(
    `pci:v0000${vendor}d0000${device}sv0000${sv}sd0000${sd}bc${cls.slice(0, 2)}sc${cls.slice(2, 4)}i${cls.slice(4, 6)}`,
  );

const alias = (pattern: string, module: string, line = 1): VfioAlias => ({
  pattern,
  module,
  origin: { file: "t", line },
});

/** Debian's real modules.alias with the mainline variant lines appended, as a distribution kernel with variants would have. */
const realWorld = scanModulesAlias(`${debianModulesAlias()}\n${mainlineVariantsAlias()}`, "modules.alias").aliases;

describe("rankCandidates on real modules.alias data", () => {
  it.each([
    // [what, vendor, device, subvendor, subdevice, class, expected modules in order]
    ["ConnectX-7 VF", "15B3", "101E", "15B3", "0051", "020000", ["mlx5_vfio_pci", "vfio_pci"]],
    ["modern virtio-net", "1AF4", "1041", "1AF4", "1100", "020000", ["virtio_vfio_pci", "vfio_pci"]],
    ["modern virtio-blk", "1AF4", "1042", "1AF4", "1100", "010000", ["virtio_vfio_pci", "vfio_pci"]],
    ["legacy virtio-net (no variant)", "1AF4", "1000", "1AF4", "0001", "020000", ["vfio_pci"]],
    ["Grace Hopper GPU", "10DE", "2342", "10DE", "16EB", "030200", ["nvgrace_gpu_vfio_pci", "vfio_pci"]],
    ["QAT 4xxx VF", "8086", "4941", "8086", "0000", "0B4000", ["qat_vfio_pci", "vfio_pci"]],
    ["HiSilicon ZIP VF", "19E5", "A251", "19E5", "0000", "120000", ["hisi_acc_vfio_pci", "vfio_pci"]],
    ["Pensando NVMe VF", "1DD8", "1003", "1DD8", "5001", "010802", ["pds_vfio_pci", "vfio_pci"]],
    ["QEMU NVMe (no variant)", "1B36", "0010", "1AF4", "1100", "010802", ["vfio_pci"]],
  ])("%s ranks %j", (_what, v, d, sv, sd, cls, expected) => {
    expect(rankCandidates(modalias(v, d, sv, sd, cls), realWorld).map((c) => c.module)).toEqual(expected);
  });

  it("Debian's kernel alone offers only the generic vfio_pci for a virtio-net device", () => {
    const debianOnly = scanModulesAlias(debianModulesAlias(), "modules.alias").aliases;
    const ranked = rankCandidates(modalias("1AF4", "1041", "1AF4", "1100"), debianOnly);
    expect(ranked).toHaveLength(1);
    expect(ranked[0]).toMatchObject({
      module: "vfio_pci",
      pattern: "vfio_pci:v*d*sv*sd*bc*sc*i*",
      wildcards: 7,
      literals: 20,
    });
  });
});

describe("the seed's BlueField Virtio SNAP case", () => {
  // 1af4:1042 with subvendor 15b3: the subvendor-specific entry (4 '*') beats
  // virtio_vfio_pci (5 '*'), which beats generic vfio_pci (7 '*').
  const snap = modalias("1AF4", "1042", "15B3", "0061", "010000");
  const aliases = [
    ...scanModulesAlias(mainlineVariantsAlias(), "m").aliases,
    alias("vfio_pci:v00001AF4d00001042sv000015B3sd*bc*sc*i*", "mlx5_vfio_pci"),
  ];

  it("ranks subvendor-specific over virtio_vfio_pci over vfio_pci", () => {
    const ranked = rankCandidates(snap, aliases);
    expect(ranked.map((c) => [c.module, c.wildcards])).toEqual([
      ["mlx5_vfio_pci", 4],
      ["virtio_vfio_pci", 5],
      ["vfio_pci", 7],
    ]);
    expect(whyRanksBelow(ranked[1]!, ranked[0]!)).toBe("more wildcards than mlx5_vfio_pci (5 > 4)");
  });

  it("gives the same answer whatever the order of the lines", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(aliases, { minLength: aliases.length }), (shuffled) => {
        expect(rankCandidates(snap, shuffled).map((c) => c.module)).toEqual([
          "mlx5_vfio_pci",
          "virtio_vfio_pci",
          "vfio_pci",
        ]);
      }),
    );
  });
});

describe("tie-breaks", () => {
  const dev = modalias("1AF4", "1041", "1AF4", "1100");

  it("prefers more literal characters when the '*' count ties", () => {
    const ranked = rankCandidates(dev, [
      alias("vfio_pci:v00001AF4d0000104?sv*sd*bc*sc*i*", "question_mark"),
      alias("vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "exact"),
      alias("vfio_pci:v00001AF4d0000104[01]sv*sd*bc*sc*i*", "bracket"),
    ]);
    expect(ranked.map((c) => c.module)).toEqual(["exact", "bracket", "question_mark"]);
    expect(whyRanksBelow(ranked[1]!, ranked[0]!)).toBe(
      "as many wildcards as exact, fewer literal characters (35 < 36)",
    );
  });

  it("falls back to module name order, never file order", () => {
    const p = "vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*";
    expect(rankCandidates(dev, [alias(p, "zeta", 1), alias(p, "alpha", 2)]).map((c) => c.module)).toEqual([
      "alpha",
      "zeta",
    ]);
    expect(rankCandidates(dev, [alias(p, "alpha", 1), alias(p, "zeta", 2)]).map((c) => c.module)).toEqual([
      "alpha",
      "zeta",
    ]);
  });

  it("lists a module once, with its most specific matching pattern", () => {
    const ranked = rankCandidates(dev, [
      alias("vfio_pci:v00001AF4d*sv*sd*bc*sc*i*", "virtio_vfio_pci"),
      alias("vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*", "virtio_vfio_pci"),
      alias("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci"),
    ]);
    expect(ranked.map((c) => [c.module, c.pattern])).toEqual([
      ["virtio_vfio_pci", "vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*"],
      ["vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*"],
    ]);
    expect(ranked[0]?.alsoMatched).toEqual(["vfio_pci:v00001AF4d*sv*sd*bc*sc*i*"]);
  });

  it("ignores aliases of other devices", () => {
    expect(rankCandidates(dev, [alias("vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*", "mlx5_vfio_pci")])).toEqual([]);
  });
});

describe("ranking properties", () => {
  const hex4 = fc.constantFrom("1AF4", "15B3", "8086", "10DE");
  const field = (value: fc.Arbitrary<string>) =>
    fc.oneof(
      value.map((v) => `0000${v}`),
      fc.constant("*"),
    );
  const patternArb = fc
    .tuple(field(hex4), field(fc.constantFrom("1041", "1042", "101E")), field(hex4), fc.constantFrom("*", "02", "01"))
    .map(([v, d, sv, bc]) => `vfio_pci:v${v}d${d}sv${sv}sd*bc${bc}sc*i*`);
  const aliasesArb = fc.array(
    fc.tuple(patternArb, fc.constantFrom("a_vfio", "b_vfio", "c_vfio", "vfio_pci")).map(([p, m]) => alias(p, m)),
    { maxLength: 12 },
  );
  const deviceArb = fc
    .tuple(hex4, fc.constantFrom("1041", "1042", "101E"), hex4, fc.constantFrom("020000", "010000"))
    .map(([v, d, sv, cls]) => modalias(v, d, sv, "0001", cls));

  it("is independent of line order", () => {
    fc.assert(
      fc.property(deviceArb, aliasesArb, fc.integer(), (dev, aliases, seed) => {
        const shuffled = [...aliases].sort(
          (a, b) => ((a.pattern.length * 31 + seed) % 7) - ((b.pattern.length * 31 + seed) % 7),
        );
        const strip = (list: ReturnType<typeof rankCandidates>) => list.map((c) => [c.module, c.pattern]);
        expect(strip(rankCandidates(dev, shuffled))).toEqual(strip(rankCandidates(dev, aliases)));
        expect(strip(rankCandidates(dev, [...aliases].reverse()))).toEqual(strip(rankCandidates(dev, aliases)));
      }),
      { numRuns: 500 },
    );
  });

  it("puts candidates in non-decreasing '*' count, each module once", () => {
    fc.assert(
      fc.property(deviceArb, aliasesArb, (dev, aliases) => {
        const ranked = rankCandidates(dev, aliases);
        for (let i = 1; i < ranked.length; i += 1) {
          expect(compareCandidates(ranked[i - 1]!, ranked[i]!)).toBeLessThan(0);
        }
        expect(new Set(ranked.map((c) => c.module)).size).toBe(ranked.length);
      }),
      { numRuns: 500 },
    );
  });
});
