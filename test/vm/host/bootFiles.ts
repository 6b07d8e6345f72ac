/**
 * Files placed in the guest before it boots, so that they are there when udev's coldplug
 * runs: the udev scenarios' claims (shared/udevClaims.ts) in /etc/vfio-autobind, the
 * /etc/udev/rules.d/69-vfio-autobind-claims.rules that `vfio-autobind apply` would
 * generate from them, and two logging settings the udev assertions need.
 *
 * The rules are generated here, on the host, with the project's own pure functions
 * (mergeClaimFiles/parseClaimFile and generateClaimRules), from the claim files the guest
 * will really hold: those written here plus any the package installed (the .deb ships a
 * commented 00-example.conf). The digest is readClaimConfig's own, read from the overlay
 * directory, so `vfio-autobind check` in the guest must find the rules up to date. VF
 * addresses come from the machine layout, not from a /sys.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { mergeClaimFiles } from "../../../src/config/claimConfig.js";
import { readClaimConfig } from "../../../src/config/readClaimConfig.js";
import { GENERIC_VFIO_DRIVER, GENERIC_VFIO_MODULE } from "../../../src/alias/aliasRecords.js";
import { decisionsFor } from "../../../src/rules/compileDecisions.js";
import { NO_MODULE_POLICY } from "../../../src/kmod/modulePolicy.js";
import { readVfioAliases } from "../../../src/kmod/readVfioAliases.js";
import { generateClaimRules } from "../../../src/rules/claimRules.js";
import { normaliseModuleName } from "../../../src/alias/aliasRecords.js";
import { generateHoldScript } from "../../../src/hold/holdScript.js";
import { generatedPaths } from "../../../src/paths.js";
import { sriovUdevController } from "../shared/machineLayout.js";
import { bootClaimFiles, GUEST_CONFIG_DIR, GUEST_RULES_FILE, udevSriovVfs } from "../shared/udevClaims.js";
import { PACKAGE_VERSION } from "./paths.js";
import { writeFile } from "./rootFiles.js";

/**
 * udevd at debug level from its start: it then logs `Running command "..."` for every
 * RUN program it starts, with the device's name, which is how the tests count helper
 * processes per device, coldplug included.
 */
const UDEV_CONF = `# VM suite: udevd logs every RUN program it starts (test/vm/host/bootFiles.ts).
udev_log=debug
`;

/**
 * udevd's debug lines during coldplug are many; journald's default rate limit (10000 per
 * 30 s per unit) would drop some, and with them the evidence. The suite checks that
 * journald suppressed nothing.
 */
const JOURNALD_CONF = `# VM suite: keep every line of udevd's debug log (test/vm/host/bootFiles.ts).
[Journal]
RateLimitIntervalSec=0
RateLimitBurst=0
`;

export interface BootFiles {
  /** The generated rules, as written to the guest. */
  readonly rules: string;
  /** The config digest in them (readClaimConfig's). */
  readonly digest: string;
  /** Every claim file the guest holds at boot, packaged ones included. */
  readonly configFiles: readonly string[];
}

/**
 * Writes the boot files into the overlay, after the tool is installed there (whose
 * package may have put files in /etc/vfio-autobind).
 */
export function writeBootFiles(baseRoot: string, overlay: string): BootFiles {
  const vfAddressesOf = (pf: string): readonly string[] | null =>
    pf === sriovUdevController.pfAddress ? udevSriovVfs : null;
  // The decisions the guest compiles for its kernel: its aliases, no policy, and only the
  // generic driver's name known before boot (a device whose winner is a variant is held and
  // the helper binds it at coldplug).
  const written = writeClaimsAndRules(baseRoot, overlay, bootClaimFiles, vfAddressesOf, {
    knownDrivers: { [GENERIC_VFIO_MODULE]: GENERIC_VFIO_DRIVER },
    holdScript: false,
  });
  writeFile(overlay, "etc/udev/udev.conf", UDEV_CONF, 0o644);
  writeFile(overlay, "etc/systemd/journald.conf.d/90-vmtest.conf", JOURNALD_CONF, 0o644);
  return written;
}

/**
 * Writes claim files into the overlay's /etc/vfio-autobind and the rules `apply` would
 * generate from everything the guest will hold there (the package's files included), as
 * the tool itself reads and digests them. Every boot's claims go through here.
 */
export function writeClaimsAndRules(
  baseRoot: string,
  overlay: string,
  claimFiles: Readonly<Record<string, string>>,
  vfAddressesOf: (pf: string) => readonly string[] | null,
  options: {
    /**
     * The PCI driver name of each module the guest will have loaded when `apply` (or
     * `claim`) writes its rules, by module: compiled decisions name only known drivers;
     * a device whose driver is not known is held and the helper decides.
     */
    readonly knownDrivers: Readonly<Record<string, string>>;
    /** Also write the boot-time hold script (generatedPaths().holdScript), as `apply` and `claim` do. */
    readonly holdScript: boolean;
  },
): BootFiles {
  const relativeConfigDir = GUEST_CONFIG_DIR.slice(1);
  if (fs.existsSync(path.join(baseRoot, relativeConfigDir))) {
    // The overlay would merge with it and the digest below would miss its files.
    throw new Error(
      `the base root already has ${GUEST_CONFIG_DIR}; the boot claims assume only the package and the suite write there`,
    );
  }
  for (const [name, text] of Object.entries(claimFiles))
    writeFile(overlay, path.join(relativeConfigDir, name), text, 0o644);

  const hostConfigDir = path.join(overlay, relativeConfigDir);
  // The same reading (file filter, name order) and digest as the tool in the guest.
  const loaded = readClaimConfig(hostConfigDir);
  if (loaded.errors.length > 0) throw new Error(`the boot claims have errors: ${JSON.stringify(loaded.errors)}`);
  // Parsed again under their guest paths: the rules name each claim by file and line.
  const files = loaded.files.map((file) => ({
    name: path.join(GUEST_CONFIG_DIR, path.basename(file)),
    text: fs.readFileSync(file, "utf8"),
  }));
  const config = mergeClaimFiles(files);
  const decisions = decisionsFor(
    guestKernelRelease(baseRoot),
    readVfioAliases(path.join(baseRoot, "usr", "lib", "modules", guestKernelRelease(baseRoot))),
    NO_MODULE_POLICY,
    (module) => options.knownDrivers[module] ?? null,
    (name) => {
      // As `bind --driver` resolves a pin, among the names known: a driver name or a module name.
      const known = Object.entries(options.knownDrivers).find(
        ([module, driver]) => driver === name || module === normaliseModuleName(name),
      );
      return known === undefined ? null : { module: known[0], driver: known[1] };
    },
  );
  // As the packaged tool in the guest writes them: its version, not this source's "dev".
  const rules = generateClaimRules(
    config,
    loaded.digest,
    GUEST_CONFIG_DIR,
    vfAddressesOf,
    [],
    decisions,
    PACKAGE_VERSION,
  );
  writeFile(overlay, GUEST_RULES_FILE.slice(1), rules, 0o644);
  if (options.holdScript) {
    const script = generatedPaths(GUEST_CONFIG_DIR).holdScript;
    writeFile(overlay, script.slice(1), generateHoldScript(config, loaded.digest), 0o644);
  }
  return { rules, digest: loaded.digest, configFiles: files.map((f) => f.name) };
}

/** The guest's kernel release: the one directory under the base root's usr/lib/modules. */
function guestKernelRelease(baseRoot: string): string {
  const modulesBase = path.join(baseRoot, "usr", "lib", "modules");
  const [release] = fs.readdirSync(modulesBase);
  if (release === undefined) throw new Error(`no kernel modules in ${modulesBase}`);
  return release;
}
