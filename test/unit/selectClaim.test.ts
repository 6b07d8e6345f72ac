import { describe, expect, it } from "vitest";
import { parseClaimFile } from "../../src/config/claimConfig.js";
import { selectClaim, type DeviceFacts } from "../../src/policy/selectClaim.js";

const device = (overrides: Partial<DeviceFacts> = {}): DeviceFacts => ({
  address: "0000:3b:00.2",
  vendor: "15b3",
  device: "101e",
  subsystemVendor: "15b3",
  subsystemDevice: "0051",
  classCode: "020000",
  sriov: { role: "vf", physfn: "0000:3b:00.0" },
  ...overrides,
});

const selected = (config: string, facts: DeviceFacts = device()): string => {
  const parsed = parseClaimFile(config, "c.conf");
  expect(parsed.errors).toEqual([]);
  const selection = selectClaim(parsed, facts);
  return selection.kind === "claimed"
    ? `claim:${selection.claim.origin.line}`
    : selection.kind === "excluded"
      ? `excluded:${selection.exclusion.origin.line}`
      : "unclaimed";
};

describe("selectClaim", () => {
  it.each([
    ["[Claim]\nAddress=0000:3b:00.2", "claim:1"],
    ["[Claim]\nAddress=0000:3b:00.*", "claim:1"],
    ["[Claim]\nAddress=3b:00.[0-1]", "unclaimed"],
    ["[Claim]\nIds=15b3:101e", "claim:1"],
    ["[Claim]\nIds=15b3:101e:15b3:0051", "claim:1"],
    ["[Claim]\nIds=15b3:101e:15b3:0052", "unclaimed"],
    ["[Claim]\nIds=8086:1572 15b3:101e", "claim:1"],
    ["[Claim]\nClass=0x02", "claim:1"],
    ["[Claim]\nClass=0x0200", "claim:1"],
    ["[Claim]\nClass=0x020000", "claim:1"],
    ["[Claim]\nClass=0x0302", "unclaimed"],
    ["[Claim]\nVfsOf=0000:3b:00.0", "claim:1"],
    ["[Claim]\nVfsOf=0000:5e:00.0", "unclaimed"],
    // keys in one section must all hold
    ["[Claim]\nIds=15b3:101e\nClass=0x0302", "unclaimed"],
    ["[Claim]\nIds=15b3:101e\nVfsOf=0000:3b:00.0\nAddress=0000:3b:00.*", "claim:1"],
    // the first matching claim decides; exclusions win wherever they are
    ["[Claim]\nClass=0x03\n[Claim]\nClass=0x02\n[Claim]\nIds=15b3:101e", "claim:3"],
    ["[Claim]\nIds=15b3:101e\n[Exclude]\nAddress=0000:3b:00.2", "excluded:3"],
  ])("%j → %s", (config, expected) => {
    expect(selected(config)).toBe(expected);
  });

  it("VfsOf never selects the PF itself or a device that is not a VF", () => {
    expect(
      selected(
        "[Claim]\nVfsOf=0000:3b:00.0",
        device({ address: "0000:3b:00.0", sriov: { role: "pf", numVfs: 2, totalVfs: 8, vfs: [] } }),
      ),
    ).toBe("unclaimed");
    expect(selected("[Claim]\nVfsOf=0000:3b:00.0", device({ sriov: { role: "none" } }))).toBe("unclaimed");
  });
});
