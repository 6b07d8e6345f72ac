/**
 * The boot-time hold script, run as the initramfs and the unit run it: by dash (Debian's
 * /bin/sh) and by busybox sh, against fake sysfs trees, with a file
 * in place of /proc/cmdline and of /dev/kmsg.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseClaimFile, type ClaimConfig } from "../../src/config/claimConfig.js";
import { RuntimeFailure } from "../../src/errors.js";
import { addressCasePattern, generateHoldScript } from "../../src/hold/holdScript.js";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { FakeSysfs, type FakeDeviceSpec } from "../../support/fakeSysfs.js";
import { initramfsShells } from "../support/initramfsShells.js";

const DIGEST = "0123456789abcdef";

/** The shells an initramfs runs the script with: dash and busybox sh. */
const SHELLS = initramfsShells();

let tree: FakeSysfs;
let work: string;
beforeEach(() => {
  tree = FakeSysfs.create();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-hold-"));
});
afterEach(() => {
  tree.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

function config(text: string, file = "/etc/vfio-autobind/50-test.conf"): ClaimConfig {
  const parsed = parseClaimFile(text, file);
  expect(parsed.errors).toEqual([]);
  return parsed;
}

interface Run {
  readonly status: number | null;
  readonly log: string;
  readonly stderr: string;
}

/** Runs the script as `sh script SYSFS CMDLINE LOG`, in `work` as its current directory. */
function runScript(
  script: string,
  shell: string[],
  options: { cmdline?: string; log?: string; mode?: string } = {},
): Run {
  const file = path.join(work, "hold-claimed.sh");
  fs.writeFileSync(file, script);
  const cmdline = path.join(work, "cmdline");
  fs.writeFileSync(cmdline, `${options.cmdline ?? "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet"}\n`);
  const log = options.log ?? path.join(work, "kmsg");
  fs.rmSync(path.join(work, "kmsg"), { force: true });
  if (options.log === undefined) fs.writeFileSync(log, "");
  const mode = options.mode === undefined ? [] : [options.mode];
  const result = spawnSync(shell[0] as string, [...shell.slice(1), file, ...mode, tree.root, cmdline, log], {
    cwd: work,
    encoding: "utf8",
    env: { PATH: "/nonexistent" }, // builtins only: the initramfs may have nothing else
  });
  return {
    status: result.status,
    log: fs.existsSync(log) && options.log === undefined ? fs.readFileSync(log, "utf8") : "",
    stderr: result.stderr,
  };
}

const override = (address: string): string =>
  fs.readFileSync(path.join(tree.deviceDir(address), "driver_override"), "utf8").trim();

/** A device in an IOMMU group of its own, as an endpoint behind an IOMMU is. */
let nextGroup = 0;
const device = (address: string, extra: Partial<FakeDeviceSpec> = {}): void => {
  nextGroup += 1;
  tree.addDevice({ address, vendor: "1af4", device: "1041", subsystemDevice: "1100", iommuGroup: nextGroup, ...extra });
};

/** The first line of a run that holds anything names the way to boot without holds. */
const FIRST_HOLD =
  "<5>vfio-autobind: holding claimed devices for their VFIO drivers (to boot without any hold, add vfio_autobind.hold=0 to the kernel command line)\n";

describe.each(SHELLS.map((shell) => [shell.name, [...shell.argv]] as [string, string[]]))(
  "run by %s",
  (_name, shell) => {
    it("holds what claims select by address glob, ids and class; leaves the rest; one kmsg line each", () => {
      device("0000:00:03.0");
      device("0000:00:04.0", { vendor: "8086", device: "10d3" });
      device("0000:00:05.0", { vendor: "15b3", device: "101e", subsystemVendor: "15b3", subsystemDevice: "0001" });
      device("0000:00:06.0", { vendor: "15b3", device: "101e", subsystemVendor: "15b3", subsystemDevice: "0002" });
      device("0000:00:07.0", { vendor: "1b36", device: "0010", classCode: "010802" });
      device("0000:00:08.0", { vendor: "1234", device: "1111", classCode: "030000" });
      const script = generateHoldScript(
        config(
          [
            "[Claim]",
            "Address=0000:00:0[3-4].*",
            "Ids=1af4:1041",
            "[Claim]",
            "Ids=15b3:101e:15b3:0001",
            "[Claim]",
            "Class=0x0108",
          ].join("\n"),
        ),
        DIGEST,
      );
      const run = runScript(script, shell);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(["0000:00:03.0", "0000:00:05.0", "0000:00:07.0"].map(override)).toEqual([
        HOLD_OVERRIDE,
        HOLD_OVERRIDE,
        HOLD_OVERRIDE,
      ]);
      expect(["0000:00:04.0", "0000:00:06.0", "0000:00:08.0"].map(override)).toEqual(["(null)", "(null)", "(null)"]);
      expect(run.log).toBe(
        FIRST_HOLD +
          [
            "<5>vfio-autobind: holding 0000:00:03.0 for /etc/vfio-autobind/50-test.conf:1",
            "<5>vfio-autobind: holding 0000:00:05.0 for /etc/vfio-autobind/50-test.conf:4",
            "<5>vfio-autobind: holding 0000:00:07.0 for /etc/vfio-autobind/50-test.conf:6",
            "",
          ].join("\n"),
      );
    });

    it("skips a driven device, one with an override, a bridge and an excluded one", () => {
      device("0000:00:03.0", { driver: "virtio-pci" });
      device("0000:00:04.0", { driverOverride: "vfio-pci" });
      device("0000:00:05.0", { driverOverride: HOLD_OVERRIDE });
      device("0000:00:06.0", { classCode: "060400" });
      device("0000:00:07.0");
      device("0000:00:08.0", { driverOverride: "" }); // some kernels read an empty line when unset
      const script = generateHoldScript(
        config("[Claim]\nAddress=0000:00:*\n[Exclude]\nAddress=0000:00:07.0\n[Claim]\nClass=06\n"),
        DIGEST,
      );
      const run = runScript(script, shell);
      expect(run.status).toBe(0);
      expect(override("0000:00:03.0")).toBe("(null)");
      expect(override("0000:00:04.0")).toBe("vfio-pci");
      expect(override("0000:00:05.0")).toBe(HOLD_OVERRIDE);
      expect(override("0000:00:06.0")).toBe("(null)");
      expect(override("0000:00:07.0")).toBe("(null)");
      expect(override("0000:00:08.0")).toBe(HOLD_OVERRIDE);
      expect(run.log).toBe(
        FIRST_HOLD + "<5>vfio-autobind: holding 0000:00:08.0 for /etc/vfio-autobind/50-test.conf:1\n",
      );
    });

    it("VfsOf= claims hold nothing and VfsOf= exclusions exclude nothing (no VF exists at boot)", () => {
      device("0000:00:03.0");
      device("0000:00:04.0");
      const script = generateHoldScript(
        config(
          "[Claim]\nVfsOf=0000:00:04.0\n[Claim]\nAddress=0000:00:03.0 0000:00:04.0\nVfsOf=0000:3b:00.0\n" +
            "[Exclude]\nVfsOf=0000:00:02.0\n[Claim]\nAddress=0000:00:03.0\n",
        ),
        DIGEST,
      );
      const run = runScript(script, shell);
      expect(override("0000:00:03.0")).toBe(HOLD_OVERRIDE);
      expect(override("0000:00:04.0")).toBe("(null)");
      expect(run.log).toBe(
        FIRST_HOLD + "<5>vfio-autobind: holding 0000:00:03.0 for /etc/vfio-autobind/50-test.conf:8\n",
      );
    });

    it("vfio_autobind.hold=0 on the command line holds nothing and says so; the last word wins", () => {
      device("0000:00:03.0");
      const script = generateHoldScript(config("[Claim]\nAddress=0000:00:03.0\n"), DIGEST);
      const off = runScript(script, shell, { cmdline: "root=/dev/vda1 vfio_autobind.hold=0 quiet" });
      expect(off.status).toBe(0);
      expect(override("0000:00:03.0")).toBe("(null)");
      expect(off.log).toBe("<5>vfio-autobind: vfio_autobind.hold=0 on the kernel command line: no device held\n");
      // A glob character on the command line is a word, never a file name expanded.
      const on = runScript(script, shell, { cmdline: "* vfio_autobind.hold=0 vfio_autobind.hold=1" });
      expect(on.status).toBe(0);
      expect(override("0000:00:03.0")).toBe(HOLD_OVERRIDE);
    });

    it("logs to stderr when the log device cannot be written, and holds all the same", () => {
      device("0000:00:03.0");
      const script = generateHoldScript(config("[Claim]\nAddress=0000:00:03.0\n"), DIGEST);
      const run = runScript(script, shell, { log: path.join(work, "no-such-dir", "kmsg") });
      expect(run.status).toBe(0);
      expect(run.stderr).toBe(
        FIRST_HOLD.slice("<5>".length) + "vfio-autobind: holding 0000:00:03.0 for /etc/vfio-autobind/50-test.conf:1\n",
      );
      expect(override("0000:00:03.0")).toBe(HOLD_OVERRIDE);
    });

    it("says when driver_override cannot be written, and goes on with the next device", () => {
      device("0000:00:03.0");
      device("0000:00:04.0");
      fs.rmSync(path.join(tree.deviceDir("0000:00:03.0"), "driver_override"));
      fs.mkdirSync(path.join(tree.deviceDir("0000:00:03.0"), "driver_override")); // readable as nothing, not writable
      fs.writeFileSync(path.join(tree.deviceDir("0000:00:04.0"), "driver_override"), "(null)\n");
      const script = generateHoldScript(config("[Claim]\nAddress=0000:00:0*\n"), DIGEST);
      const run = runScript(script, shell);
      expect(run.status).toBe(0);
      // A device whose driver_override cannot be read is not touched at all.
      expect(run.log).toBe(
        FIRST_HOLD + "<5>vfio-autobind: holding 0000:00:04.0 for /etc/vfio-autobind/50-test.conf:1\n",
      );
    });

    it("does nothing, quietly, where there is no PCI bus (a chroot) or no claim", () => {
      const empty = generateHoldScript({ claims: [], exclusions: [] }, DIGEST);
      device("0000:00:03.0");
      expect(runScript(empty, shell)).toEqual({ status: 0, log: "", stderr: "" });
      fs.rmSync(path.join(tree.root, "bus"), { recursive: true });
      const script = generateHoldScript(config("[Claim]\nAddress=0000:00:03.0\n"), DIGEST);
      expect(runScript(script, shell)).toEqual({ status: 0, log: "", stderr: "" });
    });

    it("a hostile file name is only ever a comment: the script runs, starts nothing, logs a safe name", () => {
      device("0000:00:03.0");
      const names = [
        "/etc/vfio-autobind/x'$(touch pwned1)'.conf",
        '/etc/vfio-autobind/x"`touch pwned2`".conf',
        "/etc/vfio-autobind/x\ntouch pwned3\n.conf",
        "/etc/vfio-autobind/x\\",
        "/etc/vfio-autobind/x\u2028touch pwned4;.conf",
        "/etc/vfio-autobind/x\r; touch pwned5 #.conf",
      ];
      for (const name of names) {
        fs.writeFileSync(path.join(tree.deviceDir("0000:00:03.0"), "driver_override"), "(null)\n");
        const script = generateHoldScript(config("[Claim]\nAddress=0000:00:03.0\n", name), DIGEST);
        expect(spawnSync("dash", ["-n"], { input: script }).status, name).toBe(0);
        const run = runScript(script, shell);
        expect(run.status, name).toBe(0);
        expect(run.stderr, name).toBe("");
        expect(
          fs.readdirSync(work).filter((f) => f.startsWith("pwned")),
          name,
        ).toEqual([]);
        expect(run.log.slice(FIRST_HOLD.length), name).toMatch(
          /^<5>vfio-autobind: holding 0000:00:03\.0 for [A-Za-z0-9_.:/+-]+:1\n$/,
        );
        expect(override("0000:00:03.0")).toBe(HOLD_OVERRIDE);
      }
    });
  },
);

describe.each(SHELLS.map((shell) => [shell.name, [...shell.argv]] as [string, string[]]))(
  "letting go of holds, run by %s",
  (_n, shell) => {
    const script = (): string =>
      generateHoldScript(
        config("[Claim]\nAddress=0000:00:03.0 0000:00:05.0\n[Exclude]\nAddress=0000:00:05.0\n"),
        DIGEST,
      );

    it("release-stale hands to the kernel each held device no current claim would hold, and keeps the rest", () => {
      device("0000:00:03.0", { driverOverride: HOLD_OVERRIDE });
      device("0000:00:04.0", { driverOverride: HOLD_OVERRIDE });
      device("0000:00:05.0", { driverOverride: HOLD_OVERRIDE });
      device("0000:00:06.0", { driverOverride: "pci-stub" });
      device("0000:00:07.0", { driverOverride: HOLD_OVERRIDE, driver: "vfio-pci" });
      const run = runScript(script(), shell, { mode: "release-stale" });
      expect(run.status).toBe(0);
      expect(["0000:00:03.0", "0000:00:04.0", "0000:00:05.0", "0000:00:06.0", "0000:00:07.0"].map(override)).toEqual([
        HOLD_OVERRIDE,
        "",
        "",
        "pci-stub",
        HOLD_OVERRIDE,
      ]);
      expect(fs.readFileSync(path.join(tree.root, "bus/pci/drivers_probe"), "utf8")).toBe("0000:00:05.0\n");
      expect(run.log).toBe(
        [
          "<5>vfio-autobind: 0000:00:04.0: held by an older initramfs, and no current claim selects it: hold cleared, the kernel probed it",
          "<5>vfio-autobind: 0000:00:05.0: held by an older initramfs, and no current claim selects it: hold cleared, the kernel probed it",
          "",
        ].join("\n"),
      );
    });

    it("release-storage hands every held storage controller to the kernel, and only those", () => {
      device("0000:00:03.0", { driverOverride: HOLD_OVERRIDE, classCode: "010802" });
      device("0000:00:04.0", { driverOverride: HOLD_OVERRIDE, classCode: "020000" });
      device("0000:00:05.0", { classCode: "010601" });
      const run = runScript(script(), shell, { mode: "release-storage" });
      expect(["0000:00:03.0", "0000:00:04.0", "0000:00:05.0"].map(override)).toEqual(["", HOLD_OVERRIDE, "(null)"]);
      expect(run.log).toMatch(
        /^<5>vfio-autobind: 0000:00:03\.0: a storage controller held while the root device has not appeared: hold cleared/,
      );
    });

    it("release-all hands every held device without a driver to the kernel, and says when it cannot", () => {
      device("0000:00:03.0", { driverOverride: HOLD_OVERRIDE });
      device("0000:00:04.0", { driverOverride: HOLD_OVERRIDE });
      fs.chmodSync(path.join(tree.deviceDir("0000:00:04.0"), "driver_override"), 0o444);
      const run = runScript(script(), shell, { mode: "release-all" });
      expect(override("0000:00:03.0")).toBe("");
      expect(run.log).toContain("0000:00:03.0: still held, and nothing is left to bind it");
      if (process.getuid?.() !== 0) {
        expect(run.log).toContain(
          "0000:00:04.0: still held, and nothing is left to bind it (no VFIO driver took it), but driver_override cannot be written",
        );
      }
    });
  },
);

describe("the script's text", () => {
  it("starts with the config digest, then says what it is", () => {
    const script = generateHoldScript({ claims: [], exclusions: [] }, DIGEST);
    expect(script.split("\n")[0]).toBe(`# config-digest: ${DIGEST}`);
    expect(script).toContain("do not edit");
  });

  it("is valid POSIX sh for dash's and busybox's parsers, and uses no external command", () => {
    const script = generateHoldScript(
      config("[Claim]\nAddress=0000:3b:0[0-1].* 3b:1?.[!0]\nIds=15b3:101e 8086:10d3:8086:a01f\nClass=02 0108\n"),
      DIGEST,
    );
    for (const { argv } of SHELLS)
      expect(spawnSync(argv[0] as string, [...argv.slice(1), "-n"], { input: script }).status).toBe(0);
    // Every command word the script runs is a shell builtin or one of its own functions.
    const words = new Set(
      script
        .split("\n")
        .filter((line) => !/^\s*#/.test(line))
        .flatMap((line) => [...line.matchAll(/(?:^\s*|[;&|]\s*|\b(?:then|else|do)\s+)([a-z_][a-z_]*)\b(?![=(.])/g)])
        .map((m) => m[1] as string),
    );
    const allowed = [
      "if",
      "then",
      "else",
      "fi",
      "for",
      "do",
      "done",
      "case",
      "in",
      "esac",
      "return",
      "exit",
      "continue",
      "shift",
      "true",
      "false",
    ];
    const builtins = [
      "echo",
      "read",
      "set",
      "say",
      "read_attr",
      "select_claim",
      "may_hold",
      "claimed",
      "held",
      "release",
    ];
    expect([...words].filter((w) => ![...allowed, ...builtins].includes(w))).toEqual([]);
  });

  it("refuses a digest that is not one", () => {
    expect(() => generateHoldScript({ claims: [], exclusions: [] }, "abc; rm -rf /")).toThrow(RuntimeFailure);
  });

  it("refuses selectors no parser would make, naming file:line", () => {
    const base = config("[Claim]\nAddress=0000:00:03.0\n", "/etc/vfio-autobind/10-a.conf");
    const claim = base.claims[0];
    if (claim === undefined) throw new Error("no claim");
    const hostile = [
      { ...claim.selectors, addresses: ["0000:00:03.0) touch x;;"] },
      { ...claim.selectors, addresses: [], ids: [{ vendor: "1af4", device: "10$(x)" }] },
      { ...claim.selectors, addresses: [], classes: ["02*|*"] },
    ];
    for (const selectors of hostile) {
      expect(() => generateHoldScript({ claims: [{ ...claim, selectors }], exclusions: [] }, DIGEST)).toThrow(
        /^\/etc\/vfio-autobind\/10-a\.conf:1: .* is not a valid selector; no hold script was written$/,
      );
    }
  });

  it("rebuilds address globs over the address characters only", () => {
    expect(addressCasePattern("0000:3b:00.2")).toBe("0000:3b:00.2");
    expect(addressCasePattern("0000:3b:0[0-1].*")).toBe("0000:3b:0[01].*");
    expect(addressCasePattern("0000:3b:1?.[!0-5]")).toBe("0000:3b:1?.[6789abcdef:.]");
    expect(addressCasePattern("0000:3b:00.[:]")).toBe("0000:3b:00.:");
    expect(addressCasePattern("0000:3b:00.[!]")).toBeNull(); // never closes: "[", "!", "]" are literals
    expect(addressCasePattern("0000:3b:00.-")).toBeNull();
    expect(addressCasePattern("0000:3b:00.[-]")).toBeNull();
  });
});
