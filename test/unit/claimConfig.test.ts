import { describe, expect, it } from "vitest";
import { formatConfigError, mergeClaimFiles, parseClaimFile } from "../../src/config/claimConfig.js";
import { claimFileName, claimFileText } from "../../src/config/claimWriter.js";
import { plainClaim } from "../support/plainClaim.js";

describe("parseClaimFile", () => {
  it("reads claims and exclusions with their selectors, options and lines", () => {
    const config = parseClaimFile(
      [
        "# GPUs for VMs",
        "[Claim]",
        "Ids=10de:2342 15B3:101E:15b3:0051",
        "Class=0x0302",
        "Driver=vfio-pci",
        "Group=bind",
        "Force=yes",
        "",
        "[Claim]",
        "Address=3b:00.* 0000:5e:00.1",
        "VfsOf=3b:00.0",
        "",
        "; exclusions win",
        "[Exclude]",
        "Address=0000:3b:00.7",
      ].join("\n"),
      "/etc/vfio-autobind/50-gpu.conf",
    );
    expect(config.errors).toEqual([]);
    expect(config.claims).toEqual([
      {
        origin: { file: "/etc/vfio-autobind/50-gpu.conf", line: 2 },
        selectors: {
          addresses: [],
          ids: [
            { vendor: "10de", device: "2342" },
            { vendor: "15b3", device: "101e", subsystemVendor: "15b3", subsystemDevice: "0051" },
          ],
          classes: ["0302"],
          vfsOf: [],
        },
        driver: "vfio-pci",
        group: "bind",
        move: "auto",
        force: true,
        owner: null,
        mode: null,
        ownershipLine: 0,
      },
      plainClaim(
        { file: "/etc/vfio-autobind/50-gpu.conf", line: 9 },
        { addresses: ["0000:3b:00.*", "0000:5e:00.1"], ids: [], classes: [], vfsOf: ["0000:3b:00.0"] },
      ),
    ]);
    expect(config.exclusions).toEqual([
      {
        origin: { file: "/etc/vfio-autobind/50-gpu.conf", line: 14 },
        selectors: { addresses: ["0000:3b:00.7"], ids: [], classes: [], vfsOf: [] },
      },
    ]);
  });

  it.each([
    ["Address=0000:3b:00.2", 1, "Address= outside any section; put it under [Claim] or [Exclude]"],
    ["[Claims]\nAddress=0000:3b:00.2", 1, "unknown section [Claims]; expected [Claim] or [Exclude]"],
    [
      "[Claim]\nAdress=0000:3b:00.2",
      2,
      "unknown key Adress=; a [Claim] takes Address=, Ids=, Class=, VfsOf=, Driver=, Group=, Move=, Force=, Owner=, Mode=",
    ],
    [
      "[Claim]\nAddress=eth0",
      2,
      'Address="eth0": expected a PCI address such as 0000:3b:00.2 or a glob such as 0000:3b:00.*',
    ],
    [
      "[Claim]\nIds=15b3",
      2,
      'Ids="15b3": expected vendor:device or vendor:device:subvendor:subdevice in hex, such as 15b3:101e',
    ],
    [
      "[Claim]\nClass=0x030",
      2,
      'Class="0x030": expected a class code of 2, 4 or 6 hex digits, such as 0x02, 0x0302 or 0x010802',
    ],
    [
      "[Claim]\nVfsOf=3b:00.*",
      2,
      'VfsOf="3b:00.*": expected the PCI address of a physical function, such as 0000:3b:00.0',
    ],
    [
      "[Claim]\nAddress=0000:3b:00.2\nDriver=../evil",
      3,
      'Driver="../evil": expected auto or a module or driver name such as vfio_pci or vfio-pci',
    ],
    ["[Claim]\nAddress=0000:3b:00.2\nGroup=all", 3, 'Group="all": expected ignore, check or bind'],
    ["[Claim]\nAddress=0000:3b:00.2\nForce=maybe", 3, 'Force="maybe": expected yes or no'],
    [
      "[Claim]\nAddress=0000:3b:00.2\nDriver=vfio-pci\nDriver=auto",
      4,
      "Driver= is given twice in this [Claim] (first on line 3)",
    ],
    ["[Claim]\nDriver=vfio-pci", 1, "[Claim] selects nothing: give at least one of Address=, Ids=, Class=, VfsOf="],
    [
      "[Exclude]\nAddress=0000:3b:00.2\nForce=yes",
      3,
      "Force= has no meaning in [Exclude]; it only takes Address=, Ids=, Class=, VfsOf=",
    ],
    ["[Claim]\nAddress=0000:3b:00.2\nthis is not ini", 3, "expected Key=Value, a [Section] header or a # comment"],
    [
      "[Claim]\nAddress=",
      2,
      "Address= is empty; expected a PCI address such as 0000:3b:00.2 or a glob such as 0000:3b:00.*",
    ],
  ])("%j is an error on line %i", (text, line, message) => {
    const config = parseClaimFile(text, "f.conf");
    expect(config.errors).toContainEqual({ file: "f.conf", line, message });
    expect(formatConfigError({ file: "f.conf", line, message })).toBe(`f.conf:${line}: ${message}`);
  });

  it("does not use a claim that has an error, and reports every error at once", () => {
    const config = parseClaimFile("[Claim]\nAddress=0000:3b:00.2\nGroup=sometimes\n[Claim]\nIds=nope\n", "f.conf");
    expect(config.errors.map((e) => e.line)).toEqual([3, 5]);
  });
});

describe("formatConfigError", () => {
  it("names the file alone for an error about the whole file", () => {
    expect(formatConfigError({ file: "/etc/vfio-autobind/x.conf", line: 0, message: "cannot read: EACCES" })).toBe(
      "/etc/vfio-autobind/x.conf: cannot read: EACCES",
    );
  });
});

describe("mergeClaimFiles", () => {
  it("reads files in name order, whatever order they come in", () => {
    const merged = mergeClaimFiles([
      { name: "/etc/x/60-b.conf", text: "[Claim]\nAddress=0000:00:02.0\n" },
      { name: "/etc/x/10-a.conf", text: "[Claim]\nAddress=0000:00:01.0\n" },
    ]);
    expect(merged.claims.map((c) => c.origin.file)).toEqual(["/etc/x/10-a.conf", "/etc/x/60-b.conf"]);
  });
});

describe("claim files written by the CLI", () => {
  it("parse back to the same selectors and options", () => {
    const request = {
      addresses: ["0000:3b:00.2"],
      ids: ["15b3:101e"],
      classes: ["0x02"],
      vfsOf: [],
      exclude: false,
      driver: "vfio-pci",
      group: "bind",
      force: true,
    };
    const text = claimFileText(request);
    const parsed = parseClaimFile(text, "x.conf");
    expect(parsed.errors).toEqual([]);
    expect(parsed.claims[0]).toMatchObject({
      selectors: { addresses: ["0000:3b:00.2"], ids: [{ vendor: "15b3", device: "101e" }], classes: ["02"], vfsOf: [] },
      driver: "vfio-pci",
      group: "bind",
      force: true,
    });
    expect(claimFileName(request)).toBe("50-claim-0000_3b_00.2.conf");
    expect(claimFileName({ ...request, addresses: [], exclude: true, vfsOf: ["0000:3b:00.0"] })).toBe(
      "50-exclude-vfs-of-0000_3b_00.0.conf",
    );
  });
});

describe("address globs", () => {
  it("refuses more than one star per address field, with a clear error", () => {
    const glob = `0000:3b:${"*".repeat(40)}x`;
    const config = parseClaimFile(`[Claim]\nAddress=${glob}\n`, "f.conf");
    expect(config.errors.map((e) => e.message)).toEqual([
      `Address="${glob}": an address glob has at most 4 "*" (one per field), not 40`,
    ]);
    const stars = parseClaimFile("[Claim]\nAddress=*:*:*.*.*\n", "f.conf");
    expect(stars.errors.map((e) => e.message)).toEqual([
      'Address="*:*:*.*.*": an address glob has at most 4 "*" (one per field), not 5',
    ]);
    expect(parseClaimFile("[Claim]\nAddress=*:*:*.*\n", "f.conf").errors).toEqual([]);
    const long = `0000:3b:00.[${"0".repeat(60)}]`;
    expect(parseClaimFile(`[Claim]\nAddress=${long}\n`, "f.conf").errors.map((e) => e.message)).toEqual([
      `Address="${long.slice(0, 60)}..." (${long.length} characters): an address glob is at most 64 characters`,
    ]);
  });
});

describe("a section whose every selector value is wrong", () => {
  it("is dropped (its errors stand), never kept as a section that selects every device", () => {
    const parsed = parseClaimFile("[Exclude]\nAddress=nonsense\n[Claim]\nIds=zzzz:1\n", "x.conf");
    expect(parsed.exclusions).toEqual([]);
    expect(parsed.claims).toEqual([]);
    expect(parsed.errors.map((e) => e.line)).toEqual([2, 4]);
  });
});

describe("Move=", () => {
  it("is auto unless a claim says apply, and anything else is an error at its line", () => {
    const parsed = parseClaimFile("[Claim]\nIds=1af4:1041\n\n[Claim]\nIds=15b3:101e\nMove=apply\n", "x.conf");
    expect(parsed.claims.map((c) => c.move)).toEqual(["auto", "apply"]);
    expect(parseClaimFile("[Claim]\nIds=1af4:1041\nMove=never\n", "x.conf").errors).toEqual([
      { file: "x.conf", line: 3, message: 'Move="never": expected auto or apply' },
    ]);
  });
});
