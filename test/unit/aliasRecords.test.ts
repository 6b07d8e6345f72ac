import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BUILTIN_ALIAS_KEY,
  builtinModuleNames,
  recordsWith,
  scanBuiltinModinfo,
  scanModulesAlias,
  VFIO_ALIAS_PREFIX,
} from "../../src/alias/aliasRecords.js";
import { debianModulesAlias, mainlineVariantsAlias } from "../../support/fixtures.js";

describe("scanModulesAlias", () => {
  it("keeps vfio_pci alias records with their line numbers and skips everything else", () => {
    const text = [
      "# Aliases extracted from modules themselves.",
      "alias pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_pci",
      "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci",
      "",
      "# alias vfio_pci:v00001AF4d*sv*sd*bc*sc*i* commented_out",
      "alias\tvfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*\tvirtio-vfio-pci",
    ].join("\n");
    const scan = scanModulesAlias(text, "/lib/modules/x/modules.alias");
    expect(scan.skipped).toEqual([]);
    expect(scan.aliases).toEqual([
      {
        pattern: "vfio_pci:v*d*sv*sd*bc*sc*i*",
        module: "vfio_pci",
        origin: { file: "/lib/modules/x/modules.alias", line: 3 },
      },
      {
        pattern: "vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*",
        module: "virtio_vfio_pci", // depmod's spelling: '-' becomes '_'
        origin: { file: "/lib/modules/x/modules.alias", line: 6 },
      },
    ]);
  });

  it("counts malformed vfio_pci lines with the reason and does not throw", () => {
    const text = [
      "alias vfio_pci:v*d*sv*sd*bc*sc*i*",
      "alias vfio_pci:v*d* vfio_pci extra",
      "alias vfio_pci:v[z-a]* broken_range",
      "alias vfio_pci:v*d* bad$name",
      "alias vfio_pci:v00001AF4d*sv*sd*bc*sc*i* good",
      "garbage vfio_pci: here",
    ].join("\n");
    const scan = scanModulesAlias(text, "modules.alias");
    expect(scan.aliases.map((a) => a.module)).toEqual(["good"]);
    expect(scan.skipped.map((s) => [s.origin.line, s.reason])).toEqual([
      [1, 'expected "alias <pattern> <module>", found 2 fields'],
      [2, 'expected "alias <pattern> <module>", found 4 fields'],
      [3, "bracket range z-a is reversed"],
      [4, 'module name "bad$name" is not valid'],
      [6, "not an alias line"],
    ]);
  });

  it("omits line numbers when asked to (the udev path)", () => {
    const scan = scanModulesAlias("x\nalias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n", "m", { lineNumbers: false });
    expect(scan.aliases[0]?.origin).toEqual({ file: "m" });
  });

  it("finds the one vfio_pci line among the 26,000 of Debian's real modules.alias", () => {
    const text = debianModulesAlias();
    expect(text.split("\n").length).toBeGreaterThan(20_000);
    const scan = scanModulesAlias(text, "modules.alias");
    expect(scan.skipped).toEqual([]);
    expect(scan.aliases.map((a) => [a.pattern, a.module])).toEqual([["vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_pci"]]);
    const line = scan.aliases[0]?.origin.line as number;
    expect(text.split("\n")[line - 1]).toBe("alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci");
  });

  it("reads every mainline variant line", () => {
    const scan = scanModulesAlias(mainlineVariantsAlias(), "variants");
    expect(scan.skipped).toEqual([]);
    expect(new Set(scan.aliases.map((a) => a.module))).toEqual(
      new Set([
        "vfio_pci",
        "mlx5_vfio_pci",
        "hisi_acc_vfio_pci",
        "pds_vfio_pci",
        "virtio_vfio_pci",
        "nvgrace_gpu_vfio_pci",
        "qat_vfio_pci",
      ]),
    );
    expect(scan.aliases).toHaveLength(17);
  });

  it("never throws on arbitrary text, and every record it keeps is well-formed", () => {
    const piece = fc.oneof(
      fc.constantFrom("alias ", "vfio_pci:", "v*", "d0000", "[", "]", "\\", "-", " ", "\t", "\n", "#", "mod", "x"),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const scan = scanModulesAlias(pieces.join(""), "m");
        for (const alias of scan.aliases) {
          expect(alias.pattern.startsWith("vfio_pci:")).toBe(true);
          expect(alias.module).toMatch(/^[A-Za-z0-9_]+$/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("scanBuiltinModinfo", () => {
  it("reads vfio_pci aliases of built-in modules from NUL-separated records", () => {
    const text = [
      "vfio_pci.description=VFIO PCI - User Level meta-driver",
      "vfio_pci.alias=vfio_pci:v*d*sv*sd*bc*sc*i*",
      "virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*",
      "mlx5-vfio-pci.alias=vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*",
      "broken.alias=vfio_pci:v[z-a]",
      "",
    ].join("\0");
    const scan = scanBuiltinModinfo(text, "modules.builtin.modinfo");
    expect(scan.aliases.map((a) => [a.module, a.pattern])).toEqual([
      ["vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*"],
      ["mlx5_vfio_pci", "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"],
    ]);
    expect(scan.skipped).toHaveLength(1);
    expect(scan.skipped[0]?.reason).toBe("bracket range z-a is reversed");
  });
});

describe("builtinModuleNames", () => {
  it("turns modules.builtin paths into module names", () => {
    expect(builtinModuleNames("kernel/drivers/vfio/pci/vfio-pci.ko\nkernel/fs/ext4/ext4.ko\n")).toEqual(
      new Set(["vfio_pci", "ext4"]),
    );
  });
});

describe("scanModulesAlias on hostile patterns", () => {
  it("skips a pattern with an escape sequence instead of carrying it to explain's output", () => {
    const scan = scanModulesAlias("alias vfio_pci:v*\u001b]0;pwned\u0007 evil_vfio_pci\n", "m");
    expect(scan.aliases).toEqual([]);
    expect(scan.skipped.map((s) => s.reason)).toEqual(["pattern has characters other than printable ASCII"]);
  });
});

describe("recordsWith (the udev helper reads index files as bytes)", () => {
  const withoutLines = (text: string) => scanModulesAlias(text, "m", { lineNumbers: false });
  const piece = fc.oneof(
    fc.constantFrom("alias ", "vfio_pci:", "v*", "d0000", "\n", "\0", "#", " ", "x.alias=", "mod", "\u00e9", "\u00ff"),
    fc.string({ maxLength: 4, unit: "binary-ascii" }),
  );

  it("gives scanModulesAlias (without line numbers) the same aliases and skipped lines as the whole file", () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const text = pieces.join("");
        const bytes = Buffer.from(text, "latin1");
        expect(withoutLines(recordsWith(bytes, VFIO_ALIAS_PREFIX, "\n"))).toEqual(withoutLines(text));
      }),
      { numRuns: 3000 },
    );
  });

  it("gives scanBuiltinModinfo the same records as the whole file", () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const text = pieces.join("");
        const bytes = Buffer.from(text, "latin1");
        expect(scanBuiltinModinfo(recordsWith(bytes, BUILTIN_ALIAS_KEY, "\0"), "f")).toEqual(
          scanBuiltinModinfo(text, "f"),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps only the vfio_pci lines of Debian's modules.alias, and every alias in them", () => {
    const text = `${debianModulesAlias()}\n${mainlineVariantsAlias()}`;
    const records = recordsWith(Buffer.from(text, "latin1"), VFIO_ALIAS_PREFIX, "\n");
    expect(records.length).toBeLessThan(text.length / 100);
    expect(withoutLines(records).aliases.length).toBeGreaterThan(5);
    expect(withoutLines(records)).toEqual(withoutLines(text));
  });
});
