/**
 * The test evaluator (support/udevRuleEvaluator.ts) on the compiled-decision layout of
 * holds-design.md: ENV seeded from the device, SYSCTL{}, IMPORT{cmdline}, IMPORT{builtin} kmod
 * loads run at once, absolute TEST paths, ATTR{} writes with $kernel/$env{} and an overlay
 * read back by later matches, RUN{builtin} apart from RUN.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOLD_OVERRIDE, HOLD_SWITCH, NO_OVERRIDE } from "../../src/policy/hold.js";
import { RULE_ENV } from "../../src/rules/ruleEnv.js";
import { renderRuleLine, tokenizeRules } from "../../src/rules/udevRuleSyntax.js";
import { FakeSysfs, modaliasFor } from "../../support/fakeSysfs.js";
import { evaluateRules, evaluateRuleTexts, type UdevOptions } from "../../support/udevRuleEvaluator.js";

const RELEASE = "6.1.0-56-amd64";

// The layout of holds-design.md, claims for the test's devices in place of generated ones.
const RULES = [
  'ACTION!="add", GOTO="vfio_autobind_claims_end"',
  'SUBSYSTEM!="pci", GOTO="vfio_autobind_claims_end"',
  'KERNEL=="0000:00:0[1-7].0", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1", ENV{VFIO_AUTOBIND_PLAN}="auto"',
  'KERNEL=="0000:00:08.0", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:4", ENV{VFIO_AUTOBIND_PLAN}="hold"',
  'KERNEL=="0000:00:09.0", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:7", ENV{VFIO_AUTOBIND_PLAN}="pin", ENV{VFIO_AUTOBIND_MODULE}="vfio_pci", ENV{VFIO_AUTOBIND_DRIVER}="vfio-pci"',
  'LABEL="vfio_autobind_claims_end"',
  'ENV{VFIO_AUTOBIND_CLAIM}!="?*", GOTO="vfio_autobind_decide_end"',
  'TEST=="driver", GOTO="vfio_autobind_decide_end"',
  `ATTR{driver_override}!="${NO_OVERRIDE}|${HOLD_OVERRIDE}", GOTO="vfio_autobind_decide_end"`,
  'ATTR{class}=="0x06*", GOTO="vfio_autobind_decide_end"',
  `IMPORT{cmdline}="${HOLD_SWITCH}"`,
  `ENV{${HOLD_SWITCH}}=="0", GOTO="vfio_autobind_decide_end"`,
  `ATTR{driver_override}="${HOLD_OVERRIDE}"`,
  // Not in the layout: proves that a later ATTR{} match reads what the rules wrote.
  `ATTR{driver_override}=="${HOLD_OVERRIDE}", ENV{SEEN_HOLD}="1"`,
  'ENV{VFIO_AUTOBIND_PLAN}=="hold", GOTO="vfio_autobind_decide_end"',
  `SYSCTL{kernel/osrelease}!="${RELEASE}", GOTO="vfio_autobind_decide_end"`,
  'ENV{VFIO_AUTOBIND_PLAN}=="pin", GOTO="vfio_autobind_decided"',
  'ENV{MODALIAS}=="pci:v*d*sv*sd*bc*sc*i*", ENV{VFIO_AUTOBIND_MODULE}="vfio_pci", ENV{VFIO_AUTOBIND_DRIVER}="vfio-pci"',
  'ENV{MODALIAS}=="pci:v00001AF4d00001041sv*sd*bc*sc*i*", ENV{VFIO_AUTOBIND_MODULE}="virtio_vfio_pci", ENV{VFIO_AUTOBIND_DRIVER}=""',
  'LABEL="vfio_autobind_decided"',
  'ENV{VFIO_AUTOBIND_DRIVER}!="?*", GOTO="vfio_autobind_decide_end"',
  'IMPORT{builtin}="kmod load $env{VFIO_AUTOBIND_MODULE}"',
  'TEST!="/sys/bus/pci/drivers/$env{VFIO_AUTOBIND_DRIVER}", GOTO="vfio_autobind_decide_end"',
  'ATTR{driver_override}="$env{VFIO_AUTOBIND_DRIVER}"',
  'ATTR{[subsystem/pci]drivers_probe}="$kernel"',
  'LABEL="vfio_autobind_decide_end"',
].join("\n");
// The packaged rule's form: RUN for every marked device.
const STATIC_RULES =
  'ACTION=="add", SUBSYSTEM=="pci", ENV{VFIO_AUTOBIND_CLAIM}=="?*", RUN+="/usr/bin/node helper udev-event"';

const HOLD = { attr: "driver_override", value: HOLD_OVERRIDE };
const HELPER = ["/usr/bin/node helper udev-event"];

let tree: FakeSysfs;
beforeAll(() => {
  tree = FakeSysfs.create();
  tree.addDevice({ address: "0000:00:01.0", vendor: "1af4", device: "1000" }); // legacy virtio: generic
  tree.addDevice({ address: "0000:00:02.0", vendor: "1af4", device: "1041" }); // variant, driver name unknown
  tree.addDevice({ address: "0000:00:03.0", vendor: "1af4", device: "1000", driver: "virtio-pci" });
  tree.addDevice({ address: "0000:00:04.0", vendor: "1af4", device: "1000", driverOverride: "ixgbevf" });
  tree.addDevice({ address: "0000:00:05.0", vendor: "8086", device: "1234", classCode: "060400" });
  tree.addDevice({ address: "0000:00:06.0", vendor: "1af4", device: "1000", driverOverride: HOLD_OVERRIDE });
  tree.addDevice({ address: "0000:00:08.0", vendor: "1af4", device: "1000" });
  tree.addDevice({ address: "0000:00:09.0", vendor: "1af4", device: "1041" });
  tree.addDevice({ address: "0000:00:0a.0", vendor: "1af4", device: "1000" }); // not claimed
});
afterAll(() => {
  fs.rmSync(tree.root, { recursive: true, force: true });
});

/** udev's kmod builtin against the fake tree: loading a module registers its driver. */
const DRIVER_OF: Readonly<Record<string, string>> = { vfio_pci: "vfio-pci" };
const loaded: string[] = [];
const kmodLoad = (module: string): void => {
  const driver = DRIVER_OF[module];
  if (driver === undefined) throw new Error(`modprobe: FATAL: Module ${module} not found`);
  loaded.push(module);
  if (!fs.existsSync(tree.at(`bus/pci/drivers/${driver}`))) tree.addDriver(driver, module);
};

const event = (address: string, options: UdevOptions = {}) =>
  evaluateRuleTexts(
    [
      { name: "70-vfio-autobind.rules", text: STATIC_RULES },
      { name: "69-vfio-autobind-claims.rules", text: RULES },
    ],
    { kernel: address, subsystem: "pci", dir: tree.deviceDir(address) },
    "add",
    { sysctl: { "kernel/osrelease": RELEASE }, sysfsRoot: tree.root, kmodLoad, ...options },
  );

describe("udevRuleEvaluator on the compiled-decision layout", () => {
  it("reads the layout with the real tokenizer, and each line renders back as written", () => {
    const read = tokenizeRules(RULES);
    expect(read.errors).toEqual([]);
    for (const rule of read.rules) expect(renderRuleLine(rule.tokens)).toBe(rule.text);
  });

  it("ranks from MODALIAS read from the device's modalias file, writes the driver, probes and loads", () => {
    const result = event("0000:00:01.0");
    expect(result.env["MODALIAS"]).toBe(modaliasFor({ address: "", vendor: "1af4", device: "1000" }));
    expect(result.env[RULE_ENV.module]).toBe("vfio_pci");
    expect(result.attrWrites).toEqual([
      HOLD,
      { attr: "driver_override", value: "vfio-pci" },
      { attr: "[subsystem/pci]drivers_probe", value: "0000:00:01.0" },
    ]);
    expect(result.builtins).toEqual(["kmod load vfio_pci"]);
    expect(result.run).toEqual(HELPER);
    expect(result.env["SEEN_HOLD"]).toBe("1"); // the later match read the written hold
  });

  it("takes MODALIAS from the device's env when given, before the file", () => {
    const result = evaluateRuleTexts(
      [{ name: "r.rules", text: RULES }],
      {
        kernel: "0000:00:01.0",
        subsystem: "pci",
        dir: tree.deviceDir("0000:00:01.0"),
        env: { MODALIAS: "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00" },
      },
      "add",
      { sysctl: { "kernel/osrelease": RELEASE } },
    );
    expect(result.env[RULE_ENV.module]).toBe("virtio_vfio_pci");
  });

  it('holds a device whose winner has no known driver name: ENV{X}="" removes the property', () => {
    const result = event("0000:00:02.0");
    expect(result.env[RULE_ENV.module]).toBe("virtio_vfio_pci");
    expect(RULE_ENV.driver in result.env).toBe(false);
    expect(result.attrWrites).toEqual([HOLD]);
    expect(result.builtins).toEqual([]);
  });

  it("leaves alone a driven device, an admin's override and a bridge (the helper still runs)", () => {
    for (const address of ["0000:00:03.0", "0000:00:04.0", "0000:00:05.0"]) {
      const result = event(address);
      expect(result.attrWrites, address).toEqual([]);
      expect(result.builtins, address).toEqual([]);
      expect(result.run, address).toEqual(HELPER);
    }
  });

  it("replaces a boot-time hold with the decision", () => {
    expect(event("0000:00:06.0").attrWrites).toEqual([
      HOLD,
      { attr: "driver_override", value: "vfio-pci" },
      { attr: "[subsystem/pci]drivers_probe", value: "0000:00:06.0" },
    ]);
  });

  it("hold plan: the hold only; pin plan: the claim's driver without ranking", () => {
    expect(event("0000:00:08.0").attrWrites).toEqual([HOLD]);
    const pinned = event("0000:00:09.0");
    expect(pinned.attrWrites).toEqual([
      HOLD,
      { attr: "driver_override", value: "vfio-pci" },
      { attr: "[subsystem/pci]drivers_probe", value: "0000:00:09.0" },
    ]);
    expect(pinned.builtins).toEqual(["kmod load vfio_pci"]);
  });

  it("where the winner's module cannot load (an initramfs without it): the hold only, the load tried", () => {
    const emptySys = fs.mkdtempSync(path.join(tree.root, "..", "no-drivers-"));
    try {
      const result = event("0000:00:09.0", {
        sysfsRoot: emptySys,
        kmodLoad: (module) => {
          throw new Error(`modprobe: FATAL: Module ${module} not found`);
        },
      });
      expect(result.attrWrites).toEqual([HOLD]);
      expect(result.builtins).toEqual(["kmod load vfio_pci"]);
      expect(result.run).toEqual(HELPER);
    } finally {
      fs.rmSync(emptySys, { recursive: true, force: true });
    }
  });

  it("another kernel release (or none): the hold, no decision", () => {
    expect(event("0000:00:01.0", { sysctl: { "kernel/osrelease": "6.12.0-1-amd64" } }).attrWrites).toEqual([HOLD]);
    expect(event("0000:00:01.0", { sysctl: {} }).attrWrites).toEqual([HOLD]);
    expect(event("0000:00:01.0", { sysctl: { "kernel.osrelease": RELEASE } }).builtins).toEqual(["kmod load vfio_pci"]);
  });

  it("IMPORT{cmdline}: vfio_autobind.hold=0 turns everything off; other values and absence do not", () => {
    const off = event("0000:00:01.0", {
      sysctl: { "kernel/osrelease": RELEASE },
      cmdline: "quiet vfio_autobind.hold=0",
    });
    expect(off.env[HOLD_SWITCH]).toBe("0");
    expect(off.attrWrites).toEqual([]);
    expect(off.run).toEqual(HELPER);
    const dashes = event("0000:00:01.0", { sysctl: { "kernel/osrelease": RELEASE }, cmdline: "vfio-autobind.hold=0" });
    expect(dashes.attrWrites).toEqual([]);
    const bare = event("0000:00:01.0", { sysctl: { "kernel/osrelease": RELEASE }, cmdline: "vfio_autobind.hold" });
    expect(bare.env[HOLD_SWITCH]).toBe("1");
    expect(bare.attrWrites.length).toBe(3);
    const last = event("0000:00:01.0", {
      sysctl: { "kernel/osrelease": RELEASE },
      cmdline: "vfio_autobind.hold=0 vfio_autobind.hold=1",
    });
    expect(last.attrWrites.length).toBe(3);
    expect(HOLD_SWITCH in event("0000:00:01.0").env).toBe(false);
  });

  it("an unclaimed device: nothing", () => {
    expect(event("0000:00:0a.0")).toMatchObject({ run: [], builtins: [], attrWrites: [] });
  });
});

describe("udevRuleEvaluator, udev's semantics in detail", () => {
  const device = () => ({ kernel: "0000:00:01.0", subsystem: "pci", dir: tree.deviceDir("0000:00:01.0") });
  const run = (text: string, options: UdevOptions = {}) =>
    evaluateRuleTexts([{ name: "t.rules", text }], device(), "add", options);

  it("fails an ATTR{} match on an attribute it cannot read, for == and != alike", () => {
    const { env } = run('ATTR{no_such_attr}!="x", ENV{A}="1"\nATTR{no_such_attr}=="x", ENV{B}="1"');
    expect(env).not.toHaveProperty("A");
    expect(env).not.toHaveProperty("B");
    expect(run('ATTR{vendor}!="0x8086", ENV{A}="1"').env["A"]).toBe("1");
  });

  it("runs a line's ENV= before its ATTR= and RUN{builtin}, whatever their order in the line", () => {
    const result = run('RUN{builtin}+="kmod load $env{M}", ATTR{driver_override}="$env{D}", ENV{D}="late", ENV{M}="m"');
    expect(result.attrWrites).toEqual([{ attr: "driver_override", value: "late" }]);
    expect(result.builtins).toEqual(["kmod load m"]);
  });

  it("runs IMPORT{builtin} kmod load at once, so a later line's TEST sees what it registered; a failed load is ignored", () => {
    const sys = fs.mkdtempSync(path.join(tree.root, "..", "sys-"));
    try {
      const rules =
        'IMPORT{builtin}="kmod load $env{M}", ENV{M}="m"\nTEST=="/sys/bus/pci/drivers/$env{D}", ENV{SEEN}="1"';
      const withM = (load: (module: string) => void) =>
        evaluateRuleTexts([{ name: "t.rules", text: `ENV{M}="m", ENV{D}="d"\n${rules}` }], device(), "add", {
          sysfsRoot: sys,
          kmodLoad: load,
        });
      const failed = withM(() => {
        throw new Error("not found");
      });
      expect(failed.builtins).toEqual(["kmod load m"]);
      expect(failed.env).not.toHaveProperty("SEEN");
      const asked: string[] = [];
      const ok = withM((module) => {
        asked.push(module);
        fs.mkdirSync(path.join(sys, "bus/pci/drivers/d"), { recursive: true });
      });
      expect(asked).toEqual(["m"]);
      expect(ok.env["SEEN"]).toBe("1");
    } finally {
      fs.rmSync(sys, { recursive: true, force: true });
    }
    expect(() => run('TEST=="/sys/bus/pci"')).toThrow(/needs options.sysfsRoot/);
    expect(() => run('TEST=="/etc/x"', { sysfsRoot: tree.root })).toThrow(/needs options.sysfsRoot/);
  });

  it("fails the line of an IMPORT{cmdline} whose option is absent", () => {
    expect(run('IMPORT{cmdline}="x.y", ENV{A}="1"', { cmdline: "a b=c" }).env).not.toHaveProperty("A");
    expect(run('IMPORT{cmdline}="x.y", ENV{A}="1"', { cmdline: "a x.y=c" }).env).toMatchObject({ A: "1", "x.y": "c" });
  });

  it("keeps RUN{builtin} apart from RUN, and refuses what it does not model", () => {
    const result = run('RUN{builtin}+="kmod load x", RUN+="/bin/true"');
    expect(result.builtins).toEqual(["kmod load x"]);
    expect(result.run).toEqual(["/bin/true"]);
    expect(() => run('ATTR{driver_override}="$devpath"')).toThrow(/outside the evaluated subset/);
    expect(() => run('IMPORT{program}="/bin/x"')).toThrow(/outside the evaluated subset/);
    expect(() => run('NAME="x"')).toThrow(/outside the evaluated subset/);
  });

  it("uses the matcher it is given for every glob alternative", () => {
    const asked: [string, string][] = [];
    run('ENV{MODALIAS}=="a|b*", ENV{A}="1"', {
      fnmatch: (p, v) => {
        asked.push([p, v]);
        return false;
      },
    });
    const modalias = fs.readFileSync(path.join(tree.deviceDir("0000:00:01.0"), "modalias"), "utf8").trim();
    expect(asked).toEqual([
      ["a", modalias],
      ["b*", modalias],
    ]);
  });

  it("evaluateRules reads the files it is given, in name order", () => {
    const dir = fs.mkdtempSync(path.join(tree.root, "..", "vfio-autobind-rules-"));
    fs.writeFileSync(path.join(dir, "70-b.rules"), 'ENV{A}="b"\n');
    fs.writeFileSync(path.join(dir, "69-a.rules"), 'ENV{A}="a", ENV{B}="a"\n');
    const result = evaluateRules([path.join(dir, "70-b.rules"), path.join(dir, "69-a.rules")], device());
    expect(result.env).toMatchObject({ A: "b", B: "a" });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
