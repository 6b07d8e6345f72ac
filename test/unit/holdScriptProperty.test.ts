/**
 * The hold script against selectClaim, for random configs and devices: run by dash against
 * a fake sysfs tree, it holds exactly the devices that selectClaim says are claimed once
 * VfsOf= sections are set aside (no VF exists at boot), minus driven devices, devices with
 * an override and bridges, and logs each with the claim selectClaim picks. File names are
 * hostile throughout: none may reach the script outside a comment.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseAddressSelector,
  type ClaimConfig,
  type Exclusion,
  type Selectors,
} from "../../src/config/claimConfig.js";
import { generateHoldScript } from "../../src/hold/holdScript.js";
import { HOLD_OVERRIDE } from "../../src/policy/hold.js";
import { selectClaim, type DeviceFacts } from "../../src/policy/selectClaim.js";
import { claimMark } from "../../src/rules/claimMark.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { plainClaim } from "../support/plainClaim.js";

export const PROPERTY_RUNS = 300;

const hex = (digits: string, length: number) =>
  fc.array(fc.constantFrom(...digits), { minLength: length, maxLength: length }).map((a) => a.join(""));

// A small address space, so that globs and devices meet often.
const addressArb = fc
  .tuple(
    fc.constantFrom("0000", "0000", "0000", "0001"),
    fc.constantFrom("00", "3b"),
    fc.constantFrom("00", "1f"),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([d, b, s, f]) => `${d}:${b}:${s}.${f}`);

/** A glob made from an address: characters replaced by ?, brackets (odd ones too) or *. */
const globArb = fc
  .tuple(
    addressArb,
    fc.array(
      fc.oneof(
        fc.constant("?"),
        fc.constant("*"),
        fc
          .tuple(fc.boolean(), fc.array(fc.constantFrom(..."0123abf:.-!*?]"), { minLength: 1, maxLength: 3 }))
          .map(([negate, chars]) => `[${negate ? "!" : ""}${chars.join("")}]`),
        fc.tuple(hex("0123", 1), hex("3ab", 1)).map(([a, b]) => `[${a}-${b}]`),
      ),
      { maxLength: 5 },
    ),
    fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 5 }),
  )
  .map(([address, replacements, positions]) => {
    const chars = [...address];
    replacements.forEach((r, i) => {
      const at = positions[i] ?? i;
      if (at < chars.length) chars[at] = r;
    });
    return chars.join("");
  });

const idArb = fc
  .tuple(
    fc.constantFrom(["1af4", "1041"], ["8086", "10d3"], ["1af4", "10d3"]),
    fc.option(fc.tuple(fc.constantFrom("1af4", "8086"), fc.constantFrom("1100", "0001")), { nil: undefined }),
  )
  .map(([[vendor, device], sub]) => ({ vendor: vendor, device: device, sub }));

const classArb = fc.constantFrom("02", "0200", "020000", "0108", "010802", "06", "060400", "03");

/** A key left out as often as given, so that sections of one or two keys are common. */
const maybe = <T>(values: fc.Arbitrary<T>): fc.Arbitrary<readonly T[]> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.array(values, { minLength: 1, maxLength: 2 }) },
  );

const selectorsArb: fc.Arbitrary<Selectors> = fc
  .record({
    addresses: maybe(fc.oneof(addressArb, globArb)),
    ids: maybe(idArb),
    classes: maybe(classArb),
    vfsOf: fc.oneof(
      { weight: 5, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(addressArb, { minLength: 1, maxLength: 1 }) },
    ),
  })
  .map((s) => ({
    addresses: s.addresses.map((g) => parseAddressSelector(g)).filter((g): g is string => g !== null),
    ids: s.ids.map((id) => ({
      vendor: id.vendor,
      device: id.device,
      ...(id.sub !== undefined ? { subsystemVendor: id.sub[0], subsystemDevice: id.sub[1] } : {}),
    })),
    classes: s.classes,
    vfsOf: s.vfsOf,
  }))
  .filter((s) => s.addresses.length + s.ids.length + s.classes.length + s.vfsOf.length > 0);

// Names an admin should never use, but that a config directory can hold.
const fileArb = fc.oneof(
  fc.constant("/etc/vfio-autobind/50-claim.conf"),
  fc.string({ maxLength: 20 }).map((s) => `/etc/vfio-autobind/${s}.conf`),
  fc
    .array(fc.constantFrom("'", '"', "`", "$(touch pwned)", "\n", "\\", ";", " ", "#", "\r", "\u2028", "*", "x"), {
      maxLength: 8,
    })
    .map((parts) => `/etc/vfio-autobind/${parts.join("")}.conf`),
);

const sectionArb = fc.record({ file: fileArb, line: fc.integer({ min: 1, max: 500 }), selectors: selectorsArb });

const configArb = fc
  .record({
    claims: fc.array(sectionArb, { minLength: 1, maxLength: 4 }),
    exclusions: fc.array(sectionArb, { maxLength: 3 }),
  })
  .map(({ claims, exclusions }): Pick<ClaimConfig, "claims" | "exclusions"> => ({
    claims: claims.map((c) => plainClaim({ file: c.file, line: c.line }, c.selectors)),
    exclusions: exclusions.map((e): Exclusion => ({ origin: { file: e.file, line: e.line }, selectors: e.selectors })),
  }));

interface BootDevice extends DeviceFacts {
  readonly driver: string | undefined;
  readonly override: string;
}

const devicesArb = fc.uniqueArray(
  fc.record({
    address: addressArb,
    id: idArb,
    classCode: fc.constantFrom("020000", "010802", "060400", "030000", "020001", "020000"),
    driver: fc.constantFrom(undefined, undefined, undefined, undefined, "host-driver"),
    override: fc.constantFrom("(null)", "(null)", "(null)", "(null)", "(null)", "", "vfio-pci", HOLD_OVERRIDE),
  }),
  { selector: (d) => d.address, minLength: 2, maxLength: 8 },
);

interface DeviceSpec {
  readonly address: string;
  readonly id: {
    readonly vendor: string;
    readonly device: string;
    readonly sub?: readonly [string, string] | undefined;
  };
  readonly classCode: string;
  readonly driver: string | undefined;
  readonly override: string;
}

const toDevice = (d: DeviceSpec): BootDevice => ({
  address: d.address,
  vendor: d.id.vendor,
  device: d.id.device,
  subsystemVendor: d.id.sub?.[0] ?? d.id.vendor,
  subsystemDevice: d.id.sub?.[1] ?? d.id.device,
  classCode: d.classCode,
  sriov: { role: "none" },
  driver: d.driver,
  override: d.override,
});

/** What the script must hold, and for which claim: selectClaim without VfsOf= sections. */
function expectedHolds(config: Pick<ClaimConfig, "claims" | "exclusions">, devices: readonly BootDevice[]): string[] {
  const atBoot = {
    claims: config.claims.filter((c) => c.selectors.vfsOf.length === 0),
    exclusions: config.exclusions.filter((e) => e.selectors.vfsOf.length === 0),
  };
  const lines: string[] = [];
  for (const device of [...devices].sort((a, b) => (a.address < b.address ? -1 : 1))) {
    if (device.driver !== undefined || !["(null)", ""].includes(device.override)) continue;
    if (device.classCode.startsWith("06")) continue;
    const selection = selectClaim(atBoot, device);
    if (selection.kind === "claimed")
      lines.push(`<5>vfio-autobind: holding ${device.address} for ${claimMark(selection.claim.origin)}`);
  }
  return lines;
}

function runDash(args: string[], cwd: string): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile("dash", args, { cwd, encoding: "utf8" }, (error, _stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ status: code, stderr });
    });
  });
}

describe("the hold script agrees with selectClaim", () => {
  // Async, so that vitest's worker keeps answering its runner while dash runs hundreds of times.
  it(`holds exactly what selectClaim claims at boot, for ${PROPERTY_RUNS} configs × devices, with hostile file names`, async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-holdprop-"));
    const seen = { held: 0, excluded: 0 };
    try {
      await fc.assert(
        fc.asyncProperty(configArb, devicesArb, async (config, specs) => {
          const devices = specs.map(toDevice);
          const tree = FakeSysfs.create();
          const run = fs.mkdtempSync(path.join(work, "run-"));
          try {
            for (const [index, d] of devices.entries()) {
              tree.addDevice({
                iommuGroup: index + 1,
                address: d.address,
                vendor: d.vendor,
                device: d.device,
                subsystemVendor: d.subsystemVendor,
                subsystemDevice: d.subsystemDevice,
                classCode: d.classCode,
                driverOverride: d.override,
                ...(d.driver !== undefined ? { driver: d.driver } : {}),
              });
            }
            const script = generateHoldScript(config, "feedc0de");
            // No file name outside a comment: every other line is plain ASCII the generator wrote.
            for (const line of script.split("\n")) if (!/^\s*#/.test(line)) expect(line).toMatch(/^[\t -~]*$/);
            const file = path.join(run, "hold.sh");
            fs.writeFileSync(file, script);
            fs.writeFileSync(path.join(run, "cmdline"), "root=/dev/vda1\n");
            fs.writeFileSync(path.join(run, "kmsg"), "");
            const result = await runDash([file, tree.root, path.join(run, "cmdline"), path.join(run, "kmsg")], run);
            expect(result.stderr).toBe("");
            expect(result.status).toBe(0);
            const logged = fs
              .readFileSync(path.join(run, "kmsg"), "utf8")
              .split("\n")
              .filter((line) => line !== "" && !line.includes("holding claimed devices"));
            const expected = expectedHolds(config, devices);
            expect(logged).toEqual(expected);
            // What this run exercised, counted for the coverage check below.
            if (expected.length > 0) seen.held += 1;
            if (expectedHolds({ claims: config.claims, exclusions: [] }, devices).length > expected.length)
              seen.excluded += 1;
            // Held now: what was held before, plus what the log names.
            const heldAddresses = new Set(logged.map((l) => l.split(" ")[2]));
            for (const d of devices) {
              const now = fs.readFileSync(path.join(tree.deviceDir(d.address), "driver_override"), "utf8").trim();
              expect(now).toBe(heldAddresses.has(d.address) ? HOLD_OVERRIDE : d.override);
            }
            expect(fs.readdirSync(run).sort()).toEqual(["cmdline", "hold.sh", "kmsg"]);
          } finally {
            tree.remove();
            fs.rmSync(run, { recursive: true, force: true });
          }
        }),
        { numRuns: PROPERTY_RUNS },
      );
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    // A property that never holds, or never meets an exclusion, proves little: the
    // generators must keep producing both.
    expect(seen.held).toBeGreaterThan(PROPERTY_RUNS / 5);
    expect(seen.excluded).toBeGreaterThan(PROPERTY_RUNS / 50);
  }, 120_000);
});
