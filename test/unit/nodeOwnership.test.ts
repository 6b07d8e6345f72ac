/** Owner= and Mode=: parsing, account lookups, one owner per IOMMU group, and the udev rules made from them. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_SYSTEM_RANGES,
  idOfGetentLine,
  ownerAccountErrors,
  ownerNames,
  parseLoginDefs,
  type AccountLookup,
} from "../../src/config/accounts.js";
import { parseClaimFile, type Claim } from "../../src/config/claimConfig.js";
import { parseMode, parseOwner } from "../../src/config/nodeAccess.js";
import { claimFileText } from "../../src/config/claimWriter.js";
import { planNodeOwnership } from "../../src/policy/nodeOwnership.js";
import { generateClaimRules } from "../../src/rules/claimRules.js";
import { generatedRulesProblem } from "../../src/rules/generatedRulesCheck.js";
import { tokenizeRules } from "../../src/rules/udevRuleSyntax.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { evaluateRules } from "../../support/udevRuleEvaluator.js";

const FILE = "/etc/vfio-autobind/c.conf";
const claimsOf = (text: string): Claim[] => {
  const config = parseClaimFile(text, FILE);
  expect(config.errors).toEqual([]);
  return [...config.claims];
};

describe("Owner= and Mode= in a claim file", () => {
  it("reads names, numbers, an optional group, and a mode with or without its leading 0", () => {
    const [claim] = claimsOf("[Claim]\nAddress=0000:3b:00.2\nOwner=qemu:kvm\nMode=660\n");
    expect(claim).toMatchObject({ owner: { user: "qemu", group: "kvm" }, mode: "0660", ownershipLine: 3 });
    expect(parseOwner("107")).toEqual({ user: "107", group: null });
    expect(parseOwner("107:36")).toEqual({ user: "107", group: "36" });
    expect(parseMode("0600")).toBe("0600");
  });

  it.each([
    ["Owner=", 'Owner="": expected USER or USER:GROUP'],
    ["Owner=qemu:kvm:x", "Owner="],
    ["Owner=qe mu", "Owner="],
    ['Owner=a",RUN+="/bin/sh', "Owner="],
    ["Owner=$USER", "Owner="],
    ["Owner=-rf", "Owner="],
    ["Owner=qemu:", "Owner="],
    ["Mode=0888", "Mode="],
    ["Mode=rw", "Mode="],
    ["Mode=04755", "Mode="],
  ])("%j is an error on its line", (line, start) => {
    const config = parseClaimFile(`[Claim]\nAddress=0000:3b:00.2\n${line}\n`, FILE);
    expect(config.errors).toHaveLength(1);
    expect(config.errors[0]).toMatchObject({ line: 3 });
    expect(config.errors[0]?.message.startsWith(start)).toBe(true);
  });

  it.each(["0666", "0604", "0601", "0602", "666", "0777", "0661"])(
    "Mode=%s, with a bit for others, is refused on its line, saying why",
    (mode) => {
      const config = parseClaimFile(`[Claim]\nAddress=0000:3b:00.2\nMode=${mode}\n`, FILE);
      expect(config.errors).toEqual([
        {
          file: FILE,
          line: 3,
          message: `Mode="${mode}": a bit for others opens the device's VFIO nodes to every local user, and whoever opens one drives the device and its DMA into host memory; use 0660 or 0600, owned by the VMM's user or a group it is in`,
        },
      ]);
    },
  );

  it("takes modes without a bit for others, and claim --mode refuses the others before writing", () => {
    for (const mode of ["0660", "0600", "0640", "0670", "0000"])
      expect(claimsOf(`[Claim]\nAddress=0000:3b:00.2\nMode=${mode}\n`)).toHaveLength(1);
    const request = { addresses: ["0000:3b:00.2"], ids: [], classes: [], vfsOf: [], exclude: false, force: false };
    expect(() => claimFileText({ ...request, mode: "0666" })).toThrow(/^--mode "0666": a bit for others opens/);
    expect(claimFileText({ ...request, mode: "0660" })).toContain("\nMode=0660\n");
  });

  it("is an error in [Exclude]", () => {
    const config = parseClaimFile("[Exclude]\nAddress=0000:3b:00.2\nOwner=qemu\n", FILE);
    expect(config.errors[0]?.message).toMatch(/^Owner= has no meaning in \[Exclude\]/);
  });

  it("property: whatever Owner= text parses, it is a strict udev-safe value", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const owner = parseOwner(text);
        if (owner === null) return true;
        return [owner.user, owner.group ?? "a"].every((v) => /^[A-Za-z0-9_-]+$/.test(v) && v.length <= 32);
      }),
      { numRuns: 500 },
    );
  });

  it("claim --owner/--mode writes Owner= and Mode= that parse back", () => {
    const text = claimFileText({
      addresses: ["0000:3b:00.2"],
      ids: [],
      classes: [],
      vfsOf: [],
      exclude: false,
      force: false,
      owner: "qemu:kvm",
      mode: "660",
    });
    expect(text).toContain("\nOwner=qemu:kvm\nMode=0660\n");
    expect(text).toContain("# Written by: vfio-autobind claim 0000:3b:00.2 --owner qemu:kvm --mode 0660\n");
    expect(claimsOf(text)[0]).toMatchObject({ owner: { user: "qemu", group: "kvm" }, mode: "0660" });
    expect(() =>
      claimFileText({
        addresses: ["0000:3b:00.2"],
        ids: [],
        classes: [],
        vfsOf: [],
        exclude: false,
        force: false,
        owner: "qemu\nRUN",
      }),
    ).toThrow(/--owner/);
  });
});

describe("Owner= accounts as udev would take them", () => {
  const claims = claimsOf(
    "[Claim]\nAddress=0000:3b:00.2\nOwner=qemu:kvm\n[Claim]\nAddress=0000:3b:00.3\nOwner=4242:36\n[Claim]\nAddress=0000:3b:00.4\nMode=0600\nOwner=cloudhv:vmms\n[Claim]\nAddress=0000:3b:00.5\nOwner=chv:users\n",
  );
  const accounts = {
    users: new Map<string, AccountLookup>([
      ["qemu", 107],
      ["cloudhv", null],
      ["chv", 1001],
    ]),
    groups: new Map<string, AccountLookup>([
      ["kvm", 36],
      ["vmms", { problem: "getent group failed (timed out)" }],
      ["users", 100],
    ]),
    ranges: DEFAULT_SYSTEM_RANGES,
  };

  it("looks up each name once and no number", () => {
    expect(ownerNames(claims)).toEqual({ users: ["qemu", "cloudhv", "chv"], groups: ["kvm", "vmms", "users"] });
  });

  it("accepts system accounts; names a missing, unresolvable or non-system one at the Owner= line, saying what udev does", () => {
    const notSystem = (what: string, key: string, max: string, make: string) =>
      `Owner=: ${what} is not a system ${what.split(" ")[0]} (${max} is 999): systemd 258 and 259 ignore ${key} naming one and drop the whole rule line, so the nodes keep udev's default owner and mode; 260 and later take it with a deprecation warning. Give a system ${what.split(" ")[0]} (${make}), or Owner=root:GROUP with a system group the VMM's user belongs to, and Mode=0660`;
    expect(ownerAccountErrors(claims, accounts)).toEqual([
      { file: FILE, line: 6, message: notSystem("user 4242", "OWNER=", "SYS_UID_MAX", "useradd --system") },
      {
        file: FILE,
        line: 10,
        message: "Owner=: no user cloudhv on this system (getent passwd cloudhv finds none); udev would ignore it",
      },
      { file: FILE, line: 10, message: "Owner=: cannot look up group vmms: getent group failed (timed out)" },
      {
        file: FILE,
        line: 13,
        message: notSystem("user chv (uid 1001)", "OWNER=", "SYS_UID_MAX", "useradd --system"),
      },
    ]);
  });

  it("takes the system ranges from login.defs", () => {
    expect(parseLoginDefs("# comment\nSYS_UID_MAX\t\t1999\n  SYS_GID_MAX 499\nUID_MIN 1000\n")).toEqual({
      uidMax: 1999,
      gidMax: 499,
    });
    expect(parseLoginDefs("#SYS_UID_MAX 5000\n")).toEqual(DEFAULT_SYSTEM_RANGES);
    const wide = { ...accounts, ranges: { uidMax: 4999, gidMax: 999 } };
    expect(ownerAccountErrors(claims, wide).map((e) => e.line)).toEqual([10, 10]);
  });

  it("reads the id from a getent line", () => {
    expect(idOfGetentLine("qemu:x:107:107::/:/usr/sbin/nologin")).toBe(107);
    expect(idOfGetentLine("kvm:x:36:qemu")).toBe(36);
    expect(idOfGetentLine("odd")).toBeNull();
  });
});

describe("planNodeOwnership (one owner per IOMMU group)", () => {
  const [qemu, other, plain] = claimsOf(
    "[Claim]\nAddress=0000:3b:00.2\nOwner=qemu:kvm\nMode=0660\n[Claim]\nAddress=0000:3b:00.3\nOwner=crosvm\n[Claim]\nAddress=0000:3b:00.4\n",
  ) as [Claim, Claim, Claim];

  it("gives each device's nodes its claim's owner, and leaves claims without Owner=/Mode= out", () => {
    const plan = planNodeOwnership([
      { address: "0000:3b:00.2", iommuGroup: "42", claim: qemu },
      { address: "0000:3b:00.4", iommuGroup: "44", claim: plain },
    ]);
    expect(plan.errors).toEqual([]);
    expect(plan.nodes.map((n) => [n.address, n.iommuGroup, n.owner, n.mode])).toEqual([
      ["0000:3b:00.2", "42", { user: "qemu", group: "kvm" }, "0660"],
    ]);
  });

  it("is a config error at both claims' lines when one group gets two owners; neither is applied", () => {
    const plan = planNodeOwnership([
      { address: "0000:3b:00.2", iommuGroup: "42", claim: qemu },
      { address: "0000:3b:00.3", iommuGroup: "42", claim: other },
    ]);
    expect(plan.nodes).toEqual([]);
    expect(plan.errors.map((e) => `${e.file}:${e.line}: ${e.message}`)).toEqual([
      `${FILE}:3: IOMMU group 42 shares one node /dev/vfio/42: 0000:3b:00.2 gets Owner=qemu:kvm and Mode=0660 here, but 0000:3b:00.3 gets Owner=crosvm and the default mode from ${FILE}:7; give every claimed device of the group the same Owner= and Mode=`,
      `${FILE}:7: IOMMU group 42 shares one node /dev/vfio/42: 0000:3b:00.3 gets Owner=crosvm and the default mode here, but 0000:3b:00.2 gets Owner=qemu:kvm and Mode=0660 from ${FILE}:3; give every claimed device of the group the same Owner= and Mode=`,
    ]);
  });

  it("is an error when a group's other claimed device keeps the default owner", () => {
    const plan = planNodeOwnership([
      { address: "0000:3b:00.2", iommuGroup: "42", claim: qemu },
      { address: "0000:3b:00.4", iommuGroup: "42", claim: plain },
    ]);
    expect(plan.errors).toHaveLength(2);
    expect(plan.errors[1]?.message).toContain("gets the default owner and the default mode here");
  });

  it("lets two devices of one group share an owner when their claims agree", () => {
    const plan = planNodeOwnership([
      { address: "0000:3b:00.2", iommuGroup: "42", claim: qemu },
      { address: "0000:3b:00.5", iommuGroup: "42", claim: qemu },
    ]);
    expect(plan.errors).toEqual([]);
    expect(plan.nodes).toHaveLength(2);
  });
});

describe("the ownership section of the generated rules", () => {
  const config = parseClaimFile("[Claim]\nAddress=0000:3b:00.*\nOwner=qemu:kvm\nMode=0660\n", FILE);
  const claim = config.claims[0] as Claim;
  const nodes = planNodeOwnership([
    { address: "0000:3b:00.2", iommuGroup: "42", claim },
    { address: "0000:3b:00.3", iommuGroup: "42", claim },
  ]).nodes;
  const text = generateClaimRules(config, "abc123", "/etc/vfio-autobind", () => null, nodes);
  const owned = { owner: "qemu", group: "kvm", mode: "0660" };

  let tree: FakeSysfs;
  let dir: string;
  beforeEach(() => {
    // The host at apply time: both devices in group 42.
    tree = FakeSysfs.create();
    for (const address of ["0000:3b:00.2", "0000:3b:00.3"])
      tree.addDevice({ address, vendor: "15b3", device: "101e", iommuGroup: 42 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-rules-"));
  });
  afterEach(() => {
    tree.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The node's OWNER/GROUP/MODE for one event, the rules evaluated as udev would over `tree`. */
  const event = (rules: string, subsystem: string, kernel: string, kernels: string[] = [kernel], action = "add") => {
    const file = path.join(dir, "69-vfio-autobind-claims.rules");
    fs.writeFileSync(file, rules);
    return evaluateRules([file], { subsystem, kernel, dir, kernels }, action, { sysfsRoot: tree.root });
  };

  it("comes after the claims' section: the group node by the device it holds, the cdev by its device, the mode on a line of its own, no RUN", () => {
    const rules = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    // The hold's section (claimRules.test.ts) sits between the claims and the owners.
    const decideEnd = rules.indexOf('LABEL="vfio_autobind_decide_end"');
    expect(decideEnd).toBeGreaterThan(0);
    const group = (address: string) =>
      `SUBSYSTEM=="vfio", KERNEL=="[0-9]*", TEST=="/sys/kernel/iommu_groups/$kernel/devices/${address}"`;
    const cdev = (address: string) => `SUBSYSTEM=="vfio-dev", KERNEL=="vfio[0-9]*", KERNELS=="${address}"`;
    expect([...rules.slice(0, 4), ...rules.slice(decideEnd + 1)]).toEqual([
      'ACTION!="add", GOTO="vfio_autobind_claims_end"',
      'SUBSYSTEM!="pci", GOTO="vfio_autobind_claims_end"',
      'KERNEL=="0000:3b:00.*", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"',
      'LABEL="vfio_autobind_claims_end"',
      'ACTION=="remove", GOTO="vfio_autobind_owners_end"',
      'SUBSYSTEM!="vfio|vfio-dev", GOTO="vfio_autobind_owners_end"',
      ...["0000:3b:00.2", "0000:3b:00.3"].flatMap((address) => [
        `${group(address)}, OWNER="qemu", GROUP="kvm"`,
        `${group(address)}, MODE="0660"`,
        `${cdev(address)}, OWNER="qemu", GROUP="kvm"`,
        `${cdev(address)}, MODE="0660"`,
      ]),
      'LABEL="vfio_autobind_owners_end"',
    ]);
    expect(tokenizeRules(text).rules.some((r) => r.tokens.some((t) => t.key === "RUN"))).toBe(false);
  });

  it("reads back as rules vfio-autobind generates (check's tamper test), and a RUN or another TEST added to it does not", () => {
    expect(generatedRulesProblem(text)).toBeNull();
    const tampered = text.replace('MODE="0660"', 'MODE="0660", RUN+="/bin/sh"');
    expect(generatedRulesProblem(tampered)?.message).toMatch(/not a rule vfio-autobind generates/);
    expect(generatedRulesProblem(text.replace('OWNER="qemu"', 'OWNER="$env{X}"'))).not.toBeNull();
    for (const test of ["/sys/kernel/iommu_groups/$kernel/devices/../../../etc", "/etc/passwd", "/sys/kernel/$env{X}"])
      expect(
        generatedRulesProblem(text.replace("/sys/kernel/iommu_groups/$kernel/devices/0000:3b:00.2", test)),
        test,
      ).not.toBeNull();
    // A mode open to others is one vfio-autobind never writes, whatever the digest says.
    expect(generatedRulesProblem(text.replaceAll('MODE="0660"', 'MODE="0666"'))).not.toBeNull();
  });

  it("owns the right nodes as udev evaluates them, starts no process, and leaves other nodes alone", () => {
    expect(event(text, "vfio", "42")).toEqual({ env: {}, run: [], builtins: [], attrWrites: [], node: owned });
    expect(event(text, "vfio", "42", ["42"], "change").node).toEqual(owned);
    expect(event(text, "vfio-dev", "vfio0", ["vfio0", "vfio-dev", "0000:3b:00.3"]).node).toEqual(owned);
    // Another group, another device's cdev, the container node, a remove: untouched.
    tree.addDevice({ address: "0000:5e:00.0", vendor: "8086", device: "1572", iommuGroup: 43 });
    expect(event(text, "vfio", "43").node).toEqual({});
    expect(event(text, "vfio", "420").node).toEqual({});
    expect(event(text, "vfio-dev", "vfio1", ["vfio1", "vfio-dev", "0000:3b:00.7"]).node).toEqual({});
    expect(event(text, "misc", "vfio").node).toEqual({});
    expect(event(text, "vfio", "42", ["42"], "remove").node).toEqual({});
    // A PCI device of the claim is marked and nothing more (no IOMMU group here, so no hold);
    // its node section is skipped.
    expect(event(text, "pci", "0000:3b:00.2")).toEqual({
      env: { VFIO_AUTOBIND_CLAIM: `${FILE}:1` },
      run: [],
      builtins: [],
      attrWrites: [],
      node: {},
    });
  });

  it("follows the device when a hardware change renumbers the groups: its node is owned, the one with its old number is not", () => {
    // After the change the claimed devices are in group 7, and group 42 holds another card.
    for (const address of ["0000:3b:00.2", "0000:3b:00.3"]) {
      tree.removeDevice(address);
      tree.addDevice({ address, vendor: "15b3", device: "101e", iommuGroup: 7 });
    }
    tree.addDevice({ address: "0000:af:00.0", vendor: "10de", device: "2330", iommuGroup: 42 });
    expect(event(text, "vfio", "42").node).toEqual({});
    expect(event(text, "vfio", "7").node).toEqual(owned);
  });

  it("keeps the mode when udev drops a line for its OWNER= (systemd 258 and 259 with an account that is not a system one)", () => {
    const dropped = text
      .split("\n")
      .filter((line) => !/OWNER=|GROUP=/.test(line))
      .join("\n");
    expect(event(dropped, "vfio", "42").node).toEqual({ mode: "0660" });
    expect(event(dropped, "vfio-dev", "vfio0", ["vfio0", "vfio-dev", "0000:3b:00.3"]).node).toEqual({ mode: "0660" });
  });

  it("refuses an owner value the parser would not have produced", () => {
    const forged = { ...(nodes[0] as (typeof nodes)[number]), owner: { user: 'x", RUN+="/bin/sh', group: null } };
    expect(() => generateClaimRules(config, "abc123", "/etc/vfio-autobind", () => null, [forged])).toThrow(
      /not a valid value; no udev rules were written/,
    );
  });
});
