/**
 * What `npm run package` puts into the .deb and the .rpm, checked from the built packages
 * themselves: the layout, modes and conffiles, the maintainer scripts, the generated man
 * page, completion, copyright and changelog, and what lintian and rpmlint say about them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleInputs } from "../support/bundleInputs.js";
import { BUNDLE, assertBundleBuilt, runHelperBundle, withoutNodeNotices } from "../support/runBundle.js";
import { assertTestNode, TEST_NODES, WRAPPER_FLAGS } from "../support/testNodes.js";
import { VIRTIO_NET_DEVICE } from "../../support/fakeDevices.js";
import { startFakeJournal } from "../../support/fakeJournal.js";
import { FakeSysfs } from "../../support/fakeSysfs.js";
import { mainlineVariantsAlias, makeModulesDir } from "../../support/fixtures.js";
import { cliRootArgs } from "../../support/cliRoots.js";
import { PACKAGED_WRAPPER } from "../../support/packagedCommands.js";
import {
  type BuiltPackages,
  REPO,
  buildPackages,
  filesUnder,
  packageVersion,
  repoRules,
  tempDir,
} from "./support/builtPackages.js";
import { filledBootFile } from "./support/bootFiles.js";
import { requireTools } from "./support/hostTools.js";

const version = packageVersion();
/** What holds claimed devices before udev's coldplug, in both packages (the unit's path differs). */
const BOOT_SCRIPTS = [
  "/usr/lib/dracut/modules.d/90vfio-autobind/module-setup.sh",
  "/usr/lib/dracut/modules.d/90vfio-autobind/vfio-autobind-hold.sh",
  "/usr/lib/dracut/modules.d/90vfio-autobind/vfio-autobind-pre-pivot.sh",
  "/usr/lib/dracut/modules.d/90vfio-autobind/vfio-autobind-timeout.sh",
  "/usr/share/initramfs-tools/hooks/vfio-autobind",
  "/usr/share/initramfs-tools/scripts/init-bottom/00-vfio-autobind",
  "/usr/share/initramfs-tools/scripts/init-top/00-vfio-autobind",
  "/usr/share/initramfs-tools/scripts/local-block/vfio-autobind",
];
/** The units, where each family keeps packaged ones. */
const UNIT_NAMES = [
  "vfio-autobind-hold.service",
  "vfio-autobind-sweep.service",
  "vfio-autobind-sweep.timer",
  "vfio-autobind-moves.path",
  "vfio-autobind-moves.service",
];
const DEB_UNITS = UNIT_NAMES.map((name) => `/lib/systemd/system/${name}`);
const RPM_UNITS = UNIT_NAMES.map((name) => `/usr/lib/systemd/system/${name}`);

let built: BuiltPackages;
let debRoot: string; // dpkg-deb -x
let debControl: string; // dpkg-deb -e
let rpmRoot: string; // rpm --root ... --noscripts -i
const scratch: string[] = [];

beforeAll(async () => {
  requireTools(["dpkg-deb", "rpmbuild", "rpm", "lintian", "rpmlint", "man"]);
  assertBundleBuilt();
  built = await buildPackages();
  scratch.push(built.dir);
  debRoot = tempDir("deb-tree");
  debControl = tempDir("deb-control");
  rpmRoot = tempDir("rpm-root");
  scratch.push(debRoot, debControl, rpmRoot);
  await execa("dpkg-deb", ["-x", built.deb, debRoot]);
  await execa("dpkg-deb", ["-e", built.deb, debControl]);
  // Proves the payload unpacks with rpm itself. The scratch root has no /bin/sh, so the
  // scriptlets run in debianInstall.test.ts instead, inside a real Debian root.
  await execa("rpm", ["--root", rpmRoot, "--dbpath", "/var/lib/rpm", "--nodeps", "--noscripts", "-i", built.rpm]);
}, 120_000);

afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

const read = (root: string, file: string): Buffer => fs.readFileSync(path.join(root, file));
const rpmQuery = async (...args: string[]): Promise<string> => (await execa("rpm", ["-qp", ...args, built.rpm])).stdout;

describe("the layout", () => {
  const shared = [
    "/etc/vfio-autobind/00-example.conf",
    "/usr/lib/vfio-autobind/udev-helper.js",
    "/usr/lib/vfio-autobind/vfio-autobind.js",
    "/usr/sbin/vfio-autobind",
    "/usr/share/bash-completion/completions/vfio-autobind",
    "/usr/share/doc/vfio-autobind/README.md",
    "/usr/share/man/man5/vfio-autobind.conf.5.gz",
    "/usr/share/man/man8/vfio-autobind.8.gz",
    ...repoRules().map((name) => `/usr/lib/udev/rules.d/${name}`),
    ...BOOT_SCRIPTS,
  ];
  // The kernel install hook, where each family runs them (one script).
  const DEB_KERNEL_HOOK = "/etc/kernel/postinst.d/vfio-autobind";
  const RPM_KERNEL_HOOK = "/usr/lib/kernel/install.d/90-vfio-autobind.install";

  it("the .deb holds exactly the shared files plus Debian's copyright and changelog", () => {
    expect(filesUnder(debRoot)).toEqual(
      [
        ...shared,
        ...DEB_UNITS,
        DEB_KERNEL_HOOK,
        "/usr/share/doc/vfio-autobind/changelog.gz",
        "/usr/share/doc/vfio-autobind/copyright",
      ].sort(),
    );
  });

  it("the .rpm unpacks with rpm to exactly the shared files plus the license", () => {
    const unpacked = filesUnder(rpmRoot).filter((file) => !file.startsWith("/var/lib/rpm/"));
    expect(unpacked).toEqual(
      [...shared, ...RPM_UNITS, RPM_KERNEL_HOOK, "/usr/share/licenses/vfio-autobind/copyright"].sort(),
    );
  });

  it("rpm -qlp lists the same files and the directories the package owns", async () => {
    const listed = (await rpmQuery("-l")).split("\n").sort();
    const dirs = [
      "/etc/vfio-autobind",
      "/usr/lib/dracut/modules.d/90vfio-autobind",
      "/usr/lib/vfio-autobind",
      "/usr/share/doc/vfio-autobind",
      "/usr/share/licenses/vfio-autobind",
    ];
    expect(listed).toEqual(
      [...shared, ...RPM_UNITS, RPM_KERNEL_HOOK, "/usr/share/licenses/vfio-autobind/copyright", ...dirs].sort(),
    );
  });

  it("both packages carry the same bytes for every shared file", () => {
    for (const file of shared) expect(read(rpmRoot, file).equals(read(debRoot, file)), file).toBe(true);
    DEB_UNITS.forEach((unit, i) =>
      expect(read(rpmRoot, RPM_UNITS[i] as string).equals(read(debRoot, unit)), unit).toBe(true),
    );
    expect(read(rpmRoot, RPM_KERNEL_HOOK).equals(read(debRoot, DEB_KERNEL_HOOK))).toBe(true);
  });

  it("both carry the repository's udev rules unchanged", () => {
    for (const name of repoRules()) {
      const original = fs.readFileSync(path.join(REPO, "rules.d", name));
      expect(read(debRoot, `/usr/lib/udev/rules.d/${name}`).equals(original), name).toBe(true);
    }
  });

  it("the command and the boot scripts are executable and everything else is not; all owned by root", async () => {
    const executable = ["/usr/sbin/vfio-autobind", ...BOOT_SCRIPTS, DEB_KERNEL_HOOK];
    for (const file of executable) expect(fs.statSync(path.join(debRoot, file)).mode & 0o777, file).toBe(0o755);
    for (const file of [...shared.filter((f) => !executable.includes(f)), ...DEB_UNITS]) {
      expect(fs.statSync(path.join(debRoot, file)).mode & 0o777, file).toBe(0o644);
    }
    const listing = (await execa("dpkg-deb", ["-c", built.deb])).stdout.split("\n");
    expect(listing.every((line) => line.includes(" root/root "))).toBe(true);
    const rpmOwners = (
      await rpmQuery("--qf", "[%{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:perms} %{FILENAMES}\n]")
    ).split("\n");
    expect(rpmOwners.every((line) => line.startsWith("root:root "))).toBe(true);
    for (const file of [...executable.filter((f) => f !== DEB_KERNEL_HOOK), RPM_KERNEL_HOOK])
      expect(rpmOwners).toContain(`root:root -rwxr-xr-x ${file}`);
    for (const unit of RPM_UNITS) expect(rpmOwners).toContain(`root:root -rw-r--r-- ${unit}`);
  });

  it("the example config is a conffile in the .deb and %config(noreplace) in the .rpm", async () => {
    expect(fs.readFileSync(path.join(debControl, "conffiles"), "utf8")).toBe(
      "/etc/kernel/postinst.d/vfio-autobind\n/etc/vfio-autobind/00-example.conf\n",
    );
    const flags = await rpmQuery("--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]");
    expect(flags.split("\n")).toContain("cn /etc/vfio-autobind/00-example.conf");
  });

  it("the example config claims nothing: every line is a comment, in the claim file format", () => {
    const text = read(debRoot, "/etc/vfio-autobind/00-example.conf").toString();
    const lines = text.split("\n").filter((line) => line.trim() !== "");
    expect(lines.every((line) => line.startsWith("#"))).toBe(true);
    for (const key of ["[Claim]", "[Exclude]", "Address=", "Ids=", "Class=", "VfsOf=", "Driver=", "Group=", "Force="])
      expect(text).toContain(key);
  });

  it("a package built with no udev rules has none, and one built with a new rule carries it", async () => {
    const empty = tempDir("no-rules");
    const extra = tempDir("extra-rules");
    scratch.push(empty, extra);
    fs.writeFileSync(
      path.join(extra, "60-packaging-test.rules"),
      '# a rule only this test packages\nACTION=="add", SUBSYSTEM=="pci", GOTO="end"\nLABEL="end"\n',
    );
    const bare = await buildPackages({ rulesDir: empty });
    const more = await buildPackages({ rulesDir: extra });
    scratch.push(bare.dir, more.dir);
    const debList = async (deb: string): Promise<string> => (await execa("dpkg-deb", ["-c", deb])).stdout;
    const rpmList = async (rpm: string): Promise<string> => (await execa("rpm", ["-qlp", rpm])).stdout;
    expect(await debList(bare.deb)).not.toContain("rules.d");
    expect(await rpmList(bare.rpm)).not.toContain("rules.d");
    expect(await debList(more.deb)).toContain("./usr/lib/udev/rules.d/60-packaging-test.rules");
    expect((await rpmList(more.rpm)).split("\n")).toContain("/usr/lib/udev/rules.d/60-packaging-test.rules");
  });
});

describe("metadata", () => {
  const control = (): string => fs.readFileSync(path.join(debControl, "control"), "utf8");
  const field = (name: string): string | undefined => new RegExp(`^${name}: (.*)$`, "m").exec(control())?.[1];

  it("the .deb is vfio-autobind, version from package.json, architecture all", () => {
    expect(path.basename(built.deb)).toBe(`vfio-autobind_${version}_all.deb`);
    expect(field("Package")).toBe("vfio-autobind");
    expect(field("Version")).toBe(version);
    expect(field("Architecture")).toBe("all");
  });

  it("the .deb depends on node 18.19 or later, udev, kmod and util-linux (flock)", () => {
    expect(field("Depends")).toBe("nodejs (>= 18.19), udev, kmod, util-linux (>= 2.20)");
  });

  it("the .rpm is noarch, version from package.json, and requires the same tools", async () => {
    expect(path.basename(built.rpm)).toBe(`vfio-autobind-${version}-1.noarch.rpm`);
    expect(await rpmQuery("--qf", "%{NAME} %{VERSION}-%{RELEASE} %{ARCH}")).toBe(`vfio-autobind ${version}-1 noarch`);
    const requires = (await rpmQuery("--requires")).split("\n").map((line) => line.trim());
    for (const name of ["systemd-udev", "kmod", "util-linux"]) expect(requires).toContain(name);
    // With the epoch Fedora and RHEL give nodejs (1:), or RHEL 9's default Node 16 would do.
    expect(requires).toContain("nodejs >= 1:18.19");
    expect(requires.filter((r) => r.startsWith("nodejs"))).toEqual(["nodejs >= 1:18.19"]);
  });

  it("the changelogs name this version", async () => {
    const changelog = gunzipSync(read(debRoot, "/usr/share/doc/vfio-autobind/changelog.gz")).toString();
    expect(changelog.split("\n")[0]).toBe(`vfio-autobind (${version}) unstable; urgency=medium`);
    expect((await rpmQuery("--changelog")).split("\n")[0]).toMatch(
      new RegExp(` - ${version.replace(/\./g, "\\.")}-1$`),
    );
  });

  it("the copyright file is machine-readable and names every npm package inside the bundle", async () => {
    const copyright = read(debRoot, "/usr/share/doc/vfio-autobind/copyright").toString();
    expect(copyright.split("\n")[0]).toBe("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/");
    const holder = /^Copyright \(c\) (.*)$/m.exec(fs.readFileSync(path.join(REPO, "LICENSE"), "utf8"))?.[1];
    expect(copyright).toContain(
      `\nFiles: *\nCopyright: ${holder}\nLicense: Expat\n MIT License\n .\n Copyright (c) ${holder}\n`,
    );
    // What esbuild really pulls in from the two entries build.mjs bundles, found
    // independently of how the copyright file is made.
    const inputs = [
      ...(await bundleInputs("src/start/cliMain.ts")),
      ...(await bundleInputs("src/start/udevHelperMain.ts")),
    ];
    const bundled = new Set(
      inputs
        .map((input) => /^((?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1])
        .filter((dir) => dir !== undefined),
    );
    expect(bundled.size).toBeGreaterThan(10);
    for (const dir of bundled) expect(copyright).toContain(`\nFiles: ${dir}/*\n`);
    // Every paragraph has the fields dep5 requires.
    for (const paragraph of copyright.split("\n\n").slice(1))
      expect(paragraph).toMatch(/^Files: .*\nCopyright: .*\n(.*\n)*?License: \S+/);
  });
});

describe("maintainer scripts", () => {
  const debScript = (name: string): string => fs.readFileSync(path.join(debControl, name), "utf8");

  it("are valid POSIX sh", async () => {
    for (const name of ["postinst", "prerm", "postrm"]) {
      expect((await execa("dash", ["-n", path.join(debControl, name)], { reject: false })).exitCode, name).toBe(0);
    }
  });

  it("reload udev rules only where udevd runs, never failing, and never trigger events", async () => {
    const rpmScripts = await rpmQuery("--scripts");
    for (const text of [debScript("postinst"), debScript("postrm"), rpmScripts]) {
      expect(text).toContain("if [ -S /run/udev/control ] && command -v udevadm >/dev/null 2>&1; then");
      expect(text).toContain("udevadm control --reload || true");
    }
    // The only "trigger" is dpkg's call for the module directories' file triggers (below).
    for (const text of [debScript("postinst"), debScript("prerm"), debScript("postrm"), rpmScripts])
      expect(text.replace("\ntriggered)\n", "\n")).not.toMatch(/trigger/);
  });

  it("on removal and purge (rpm: erase) remove the generated claims rule, hold script and stamps, and nothing else by hand", async () => {
    expect(debScript("postrm")).toMatch(/remove\)\n\tmask_units\n\tremove_generated_rules\n/);
    expect(debScript("postrm")).toMatch(/purge\)\n\tpurge_units\n\tremove_generated_rules/);
    expect(debScript("postrm")).toContain(
      "rm -f /etc/udev/rules.d/69-vfio-autobind-claims.rules /etc/vfio-autobind/generated/hold-claimed.sh /etc/vfio-autobind/generated/initramfs-*.digest\n",
    );
    const rpmScripts = await rpmQuery("--scripts");
    expect(rpmScripts).toContain('if [ "$1" -eq 0 ]; then\n\tremove_generated_rules\n');
    for (const text of [debScript("postrm"), rpmScripts]) expect(text.match(/\brm -/g)).toEqual(["rm -"]);
  });
});

describe("modules installed or removed", () => {
  const debScript = (name: string): string => fs.readFileSync(path.join(debControl, name), "utf8");

  it("the .deb has file triggers on both module directories, which regenerate the rules and touch no device", () => {
    expect(fs.readFileSync(path.join(debControl, "triggers"), "utf8")).toBe(
      "interest-noawait /lib/modules\ninterest-noawait /usr/lib/modules\n",
    );
    expect(debScript("postinst")).toContain("\ntriggered)\n\tregenerate_rules\n\t;;\n");
    expect(debScript("postinst")).not.toMatch(/--moves-only|systemctl/);
    // The watch on the module index starts at once where systemd runs.
    expect(debScript("postinst")).toContain(
      "\tif [ -d /run/systemd/system ]; then\n\t\tdeb-systemd-invoke start vfio-autobind-moves.path >/dev/null || true\n",
    );
  });

  it("the .rpm has transaction file triggers on both module directories, installing and erasing, that do the same", async () => {
    const triggers = (await execa("rpm", ["-qp", "--filetriggers", built.rpm])).stdout;
    expect(triggers).toMatch(
      /transfiletriggerin scriptlet \(using \/bin\/sh\) -- \/lib\/modules(, | )\/usr\/lib\/modules/,
    );
    expect(triggers).toMatch(
      /transfiletriggerpostun scriptlet \(using \/bin\/sh\) -- \/lib\/modules(, | )\/usr\/lib\/modules/,
    );
    expect(triggers).toContain("vfio-autobind apply --rules-only >/dev/null");
    expect(triggers).not.toMatch(/--moves-only|systemctl/);
  });

  it("the path unit watches the running kernel's index and starts the moves service, which waits out a burst and logs as vfio-autobind", () => {
    const unit = read(debRoot, "/lib/systemd/system/vfio-autobind-moves.path").toString();
    expect(unit).toContain("PathChanged=/lib/modules/%v/modules.alias\n");
    expect(unit).toContain("PathChanged=/lib/modules/%v/modules.builtin.modinfo\n");
    expect(unit).toContain("Unit=vfio-autobind-moves.service\n");
    const service = read(debRoot, "/lib/systemd/system/vfio-autobind-moves.service").toString();
    expect(service).toContain("ExecStartPre=/bin/sleep 5\n");
    expect(service).toContain("ExecStart=/usr/sbin/vfio-autobind apply --moves-only\n");
    expect(service).toContain("SyslogIdentifier=vfio-autobind\n");
  });
});

describe("the boot-time holds", () => {
  const debScript = (name: string): string => fs.readFileSync(path.join(debControl, name), "utf8");

  it("the units are enabled on installation and let go on removal, in both packages", async () => {
    expect(debScript("postinst")).toMatch(
      /configure \| abort-upgrade \| abort-deconfigure \| abort-remove\)\n\tenable_units\n/,
    );
    expect(debScript("postinst")).toContain(`\tfor unit in ${UNIT_NAMES.join(" ")}; do\n`);
    expect(debScript("postinst")).toContain('\t\t\tdeb-systemd-helper enable "$unit" >/dev/null || true\n');
    expect(debScript("postrm")).toContain('\t\t\tdeb-systemd-helper purge "$unit" >/dev/null || true\n');
    const rpmScripts = await rpmQuery("--scripts");
    expect(rpmScripts).toContain('if [ "$1" -eq 1 ]; then\n\tenable_units\nfi');
    expect(rpmScripts).toContain(`systemctl --no-reload enable ${UNIT_NAMES.join(" ")}`);
    expect(rpmScripts).toContain(
      'if [ "$1" -eq 0 ]; then\n\trelease_held_devices\n\tnotice_bound_devices\n\tdisable_units\nfi',
    );
  });

  it("removal hands held devices to the kernel first, and rebuilds the initramfs only the distribution's way", async () => {
    expect(debScript("prerm")).toMatch(/remove\)\n\trelease_held_devices\n\tnotice_bound_devices\n/);
    expect(debScript("prerm")).toContain("sh /etc/vfio-autobind/generated/hold-claimed.sh release-all || true\n");
    // update-initramfs run by a maintainer script only activates initramfs-tools' trigger.
    expect(debScript("postrm")).toMatch(/remove\)\n(\t\w+\n)*\trebuild_initramfs\n/);
    expect(debScript("postrm")).toContain("\t\tupdate-initramfs -u ||");
    const rpmScripts = await rpmQuery("--scripts");
    expect(rpmScripts).toContain("\t\tdracut -f >/dev/null 2>&1 ||");
    // Installation and upgrade never rebuild one; nothing names /boot.
    for (const text of [debScript("postinst"), debScript("prerm")])
      expect(text).not.toMatch(/update-initramfs|dracut|mkinitramfs/);
    for (const text of [debScript("postinst"), debScript("prerm"), debScript("postrm"), rpmScripts])
      expect(text).not.toMatch(/\/boot/);
  });

  it("the boot scripts are the repository's with the program's paths filled in, in both packages", () => {
    const sources: Record<string, string> = {
      "/usr/share/initramfs-tools/hooks/vfio-autobind": "initramfs-tools-hook",
      "/usr/share/initramfs-tools/scripts/init-top/00-vfio-autobind": "initramfs-tools-init-top",
      "/usr/lib/dracut/modules.d/90vfio-autobind/module-setup.sh": "dracut-module-setup.sh",
      "/usr/lib/dracut/modules.d/90vfio-autobind/vfio-autobind-hold.sh": "dracut-pre-udev-hook.sh",
      "/usr/lib/dracut/modules.d/90vfio-autobind/vfio-autobind-pre-pivot.sh": "dracut-pre-pivot-hook.sh",
      "/usr/lib/dracut/modules.d/90vfio-autobind/vfio-autobind-timeout.sh": "dracut-timeout-hook.sh",
      "/usr/share/initramfs-tools/scripts/init-bottom/00-vfio-autobind": "initramfs-tools-init-bottom",
      "/usr/share/initramfs-tools/scripts/local-block/vfio-autobind": "initramfs-tools-local-block",
    };
    expect(Object.keys(sources).sort()).toEqual([...BOOT_SCRIPTS].sort());
    for (const [installed, source] of Object.entries(sources)) {
      const filled = Buffer.from(filledBootFile(source));
      expect(read(debRoot, installed).equals(filled), installed).toBe(true);
      expect(read(rpmRoot, installed).equals(filled), installed).toBe(true);
      expect(filled.toString(), installed).not.toMatch(/@[A-Z_]+@/);
    }
  });
});

describe("the installed command", () => {
  it("is the repository's sh wrapper, unchanged, in both packages (test/packaging/oneLayout.test.ts runs it)", () => {
    const original = fs.readFileSync(path.join(REPO, PACKAGED_WRAPPER));
    expect(original.toString().split("\n")[0]).toBe("#!/bin/sh");
    expect(read(debRoot, "/usr/sbin/vfio-autobind").equals(original)).toBe(true);
    expect(read(rpmRoot, "/usr/sbin/vfio-autobind").equals(original)).toBe(true);
  });

  it.each(TEST_NODES)(
    "runs the packaged bundle on $name with the wrapper's flags, printing package.json's version and nothing else of ours",
    async (node) => {
      assertTestNode(node);
      const bundle = path.join(debRoot, "usr/lib/vfio-autobind/vfio-autobind.js");
      const result = await execa(node.binary, [...WRAPPER_FLAGS, bundle, "--version"], { reject: false });
      expect(withoutNodeNotices(result.stderr)).toBe("");
      expect(result.stdout).toBe(version);
    },
  );

  it("runs the packaged udev helper with the rule's flags on every Node major", async () => {
    const bundle = path.join(debRoot, "usr/lib/vfio-autobind/udev-helper.js");
    const sys = FakeSysfs.create();
    const modulesDir = makeModulesDir({ "modules.alias": mainlineVariantsAlias() });
    const work = tempDir("packaged-udev");
    const journal = await startFakeJournal();
    try {
      sys.addDriver("virtio_vfio_pci", "virtio_vfio_pci");
      sys.addDevice({ ...VIRTIO_NET_DEVICE, driver: "virtio_vfio_pci", vfioDev: true });
      fs.mkdirSync(path.join(work, "config"));
      fs.writeFileSync(path.join(work, "config", "50-nic.conf"), "[Claim]\nAddress=0000:00:03.0\n");
      for (const node of TEST_NODES) {
        assertTestNode(node);
        const result = await runHelperBundle(
          cliRootArgs({
            sysfsRoot: sys.root,
            modulesDir,
            stateDir: path.join(work, "state"),
            configDir: path.join(work, "config"),
            kmsg: journal.kmsg,
            journalSocket: journal.socket,
          }),
          {
            bundle,
            nodeBinary: node.binary,
            env: {
              ACTION: "add",
              SUBSYSTEM: "pci",
              PCI_SLOT_NAME: "0000:00:03.0",
              DEVPATH: "/devices/pci0000:00/0000:00:03.0",
            },
          },
        );
        expect({ exitCode: result.exitCode, stderr: result.stderr }, node.name).toEqual({ exitCode: 0, stderr: "" });
        expect(journal.entries.at(-1)?.message, node.name).toMatch(/^0000:00:03\.0: already bound to virtio_vfio_pci/);
      }
    } finally {
      await journal.close();
      sys.remove();
      fs.rmSync(modulesDir, { recursive: true, force: true });
    }
  });

  it("bash completion asks the installed command by its full path", () => {
    const completion = read(debRoot, "/usr/share/bash-completion/completions/vfio-autobind").toString();
    expect(completion).toContain('$(/usr/sbin/vfio-autobind --get-yargs-completions "${args[@]}")');
    expect(completion).toMatch(/^complete .* vfio-autobind$/m);
    expect(completion).not.toContain("~/.bashrc");
  });
});

/** `man --warnings` of a page in an unpacked package, by name as an admin asks for it. */
async function manByName(root: string, section: string, name: string): Promise<{ text: string; warnings: string }> {
  const result = await execa(
    "man",
    ["--warnings", "-E", "UTF-8", "-M", path.join(root, "usr/share/man"), section, name],
    {
      env: { MANWIDTH: "80", LC_ALL: "C.UTF-8", MAN_KEEP_FORMATTING: "", MANOPT: "", MANPATH: "" },
    },
  );
  return { text: result.stdout, warnings: result.stderr };
}

describe("the man pages", () => {
  let rendered: string;
  let warnings: string;

  beforeAll(async () => {
    const page = path.join(tempDir("man"), "vfio-autobind.8");
    scratch.push(path.dirname(page));
    fs.writeFileSync(page, gunzipSync(read(debRoot, "/usr/share/man/man8/vfio-autobind.8.gz")));
    const result = await execa("man", ["--warnings", "-E", "UTF-8", "-l", page], {
      env: { MANWIDTH: "80", LC_ALL: "C.UTF-8", MAN_KEEP_FORMATTING: "" },
    });
    rendered = result.stdout;
    warnings = result.stderr;
  });

  /** Commands as the top-level --help lists them, read the simple way: the rows under Commands:. */
  async function commandsFromHelp(): Promise<string[]> {
    const help = (await execa(process.execPath, [...WRAPPER_FLAGS, BUNDLE, "--help"])).stdout;
    const section = help.split("Commands:\n")[1]?.split("\n\n")[0] ?? "";
    return [...section.matchAll(/^ {2}vfio-autobind (\S+)/gm)].map((m) => m[1] as string);
  }

  it("formats without a warning from man", () => {
    expect(warnings).toBe("");
    expect(rendered).toMatch(/^NAME\n {7}vfio-autobind - /m);
  });

  it("man finds both pages by name in either package, and formats them without a warning", async () => {
    for (const root of [debRoot, rpmRoot]) {
      const command = await manByName(root, "8", "vfio-autobind");
      expect(command.warnings).toBe("");
      expect(command.text).toMatch(/^VFIO-AUTOBIND\(8\) /);
      const conf = await manByName(root, "5", "vfio-autobind.conf");
      expect(conf.warnings).toBe("");
      expect(conf.text).toMatch(/^VFIO-AUTOBIND\.CONF\(5\) /);
      expect(conf.text).toMatch(
        new RegExp(`^vfio-autobind ${version.replace(/\./g, "\\.")} .*VFIO-AUTOBIND\\.CONF\\(5\\)$`, "m"),
      );
      for (const heading of [
        "DESCRIPTION",
        "[CLAIM] SECTION",
        "[EXCLUDE] SECTION",
        "SEVERAL FILES",
        "ERRORS",
        "EXAMPLES",
      ])
        expect(conf.text).toMatch(new RegExp(`^${heading.replace(/[[\]]/g, "\\$&")}$`, "m"));
    }
  });

  it("has its sections in order, the written ones between the generated ones", () => {
    const headings = [...rendered.matchAll(/^([A-Z][A-Z ]+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual([
      "NAME",
      "SYNOPSIS",
      "DESCRIPTION",
      "COMMANDS",
      "OPTIONS",
      "HOLDS AT BOOT",
      "WHO HOLDS A DEVICE",
      "FILES",
      "ENVIRONMENT",
      "EXIT STATUS",
      "EXAMPLES",
      "SEE ALSO",
    ]);
  });

  it("has a section for every command that --help lists", async () => {
    const commands = await commandsFromHelp();
    expect(commands).toEqual(expect.arrayContaining(["list", "explain", "bind", "release", "completion"]));
    for (const command of commands) expect(rendered).toMatch(new RegExp(`^ {3}vfio-autobind ${command}( |$)`, "m"));
  });

  it("carries each command's own options and examples, and the global options", () => {
    expect(rendered).toMatch(/^ {7}--no-fallback\n/m);
    expect(rendered).toContain("vfio-autobind bind 3b:00.2 --driver vfio-pci");
    for (const option of ["--sysfs-root", "--modules-dir", "--state-dir", "--json", "--version"])
      expect(rendered).toContain(option);
    const exitStatus = /^EXIT STATUS\n((?: {7}.*\n)+)/m.exec(rendered)?.[1]?.replace(/\s+/g, " ").trim();
    expect(exitStatus).toBe(
      "0 success, 1 failure (for check and status: the claims are invalid), 2 usage error, 3 the claims are valid but not applied yet (check --applied, status).",
    );
  });

  it("names the package version and the files the program reads and writes", () => {
    expect(rendered).toMatch(
      new RegExp(`^vfio-autobind ${version.replace(/\./g, "\\.")} .*VFIO-AUTOBIND\\(8\\)$`, "m"),
    );
    const files = /^FILES\n([\s\S]*?)^ENVIRONMENT$/m.exec(rendered)?.[1] ?? "";
    for (const file of [
      "/etc/vfio-autobind/*.conf",
      "/etc/udev/rules.d/69-vfio-autobind-claims.rules",
      "/etc/vfio-autobind/generated/hold-claimed.sh",
      "/usr/lib/udev/rules.d/70-vfio-autobind.rules",
      "/run/vfio-autobind/devices/ADDRESS.json",
      "/run/vfio-autobind/locks/",
      "/lib/modules/RELEASE/modules.alias",
      "/etc/modprobe.d/",
      "/proc/cmdline",
      "/dev/kmsg",
    ])
      expect(files).toContain(`       ${file}`);
  });
});

describe("linters", () => {
  it("lintian reports no error and no warning (overrides only with a written reason)", async () => {
    const result = await execa(
      "lintian",
      ["--color", "never", "--display-info", "--pedantic", "--show-overrides", built.deb],
      { reject: false },
    );
    const tags = result.stdout.split("\n").filter((line) => /^[EWIPOX]: /.test(line));
    expect(tags.filter((line) => /^[EW]: /.test(line))).toEqual([]);
    expect(result.exitCode).toBe(0);
    const overrides = path.join(debRoot, "usr/share/lintian/overrides/vfio-autobind");
    if (fs.existsSync(overrides)) {
      const lines = fs.readFileSync(overrides, "utf8").split("\n");
      lines.forEach((line, i) => {
        if (line.trim() !== "" && !line.startsWith("#"))
          expect(lines[i - 1] ?? "", `override without a comment: ${line}`).toMatch(/^#/);
      });
    }
  });

  it("rpmlint reports no error", async () => {
    const result = await execa("rpmlint", ["-c", path.join(REPO, "packaging/rpmlint.toml"), built.rpm], {
      reject: false,
    });
    expect(result.stdout.split("\n").filter((line) => / E: /.test(line))).toEqual([]);
    expect(result.stdout).toMatch(/ 0 errors, /);
  });
});
