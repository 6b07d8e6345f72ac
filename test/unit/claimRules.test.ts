import { describe, expect, it } from "vitest";
import { parseClaimFile } from "../../src/config/claimConfig.js";
import { vfAddresses } from "../../src/sysfs/sriovLayout.js";
import { digestOfRules, generateClaimRules } from "../../src/udev/claimRules.js";

const rulesFor = (text: string, vfs: Record<string, string[]> = {}): string[] => {
  const config = parseClaimFile(text, "/etc/vfio-autobind/c.conf");
  expect(config.errors).toEqual([]);
  return generateClaimRules(config, "abc123", "/etc/vfio-autobind", (pf) => vfs[pf] ?? null)
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
      'KERNEL=="0000:3b:00.*|0000:5e:00.1", ATTR{class}=="0x02????", ATTR{vendor}=="0x15b3", ATTR{device}=="0x101e", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"',
      'KERNEL=="0000:3b:00.*|0000:5e:00.1", ATTR{class}=="0x02????", ATTR{vendor}=="0x10de", ATTR{device}=="0x2342", ATTR{subsystem_vendor}=="0x10de", ATTR{subsystem_device}=="0x16eb", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"',
      'LABEL="vfio_autobind_claims_end"',
    ]);
  });

  it("names the VFs of a PF by address, before they exist", () => {
    expect(rulesFor("[Claim]\nVfsOf=0000:3b:00.0", { "0000:3b:00.0": ["0000:3b:00.2", "0000:3b:00.3"] })[2]).toBe(
      'KERNEL=="0000:3b:00.2|0000:3b:00.3", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"',
    );
  });

  it("falls back to any VF when the PF's layout is unknown", () => {
    expect(rulesFor("[Claim]\nVfsOf=0000:3b:00.0")[2]).toBe(
      'TEST=="physfn", ENV{VFIO_AUTOBIND_CLAIM}="/etc/vfio-autobind/c.conf:1"',
    );
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
