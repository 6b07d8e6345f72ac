/**
 * The Debian releases the real-kernel suites run on (VFIO_AUTOBIND_RELEASE), and what each
 * one brings that the suites check: the guest's kernel, systemd, udevd and Node are the
 * release's own, never ours. The host side reads the name and how to fetch the release;
 * the test files read what the guest must report.
 */

export interface DebianRelease {
  /** The suite name mmdebstrap and apt know it by. */
  readonly name: string;
  /** How admins call it. */
  readonly label: string;
  /** The major of the release's `nodejs` package. */
  readonly nodeMajor: number;
  /** The release's systemd (and so udevd) version. */
  readonly systemdMajor: number;
  /**
   * Drivers the release's cloud kernel binds to the q35 chipset's own functions, by
   * `vendor:device` (bookworm's binds none): unclaimed devices must keep them.
   */
  readonly chipsetDrivers: Readonly<Record<string, string>>;
  /**
   * Whether the host's own apt (bookworm) has its kernel: then the kernel comes from
   * `apt-get download` on the host and the fixtures build with the host's gcc-12.
   * Otherwise both come from a chroot of the release (host/releaseKernel.ts).
   */
  readonly hostApt: boolean;
  /** The archive's Release files for testing can be past their Valid-Until (qemu-notes.md). */
  readonly ignoreValidUntil: boolean;
  /**
   * Whether the guest root has the release's libvirt and QEMU, for the beside-libvirt
   * scenario: only the primary release's, the one `.ci/run` runs the full VM suite on.
   */
  readonly libvirt: boolean;
}

export const RELEASES: Readonly<Record<string, DebianRelease>> = {
  bookworm: {
    name: "bookworm",
    label: "Debian 12",
    nodeMajor: 18,
    systemdMajor: 252,
    chipsetDrivers: {},
    hostApt: true,
    ignoreValidUntil: false,
    libvirt: false,
  },
  trixie: {
    name: "trixie",
    label: "Debian 13",
    nodeMajor: 20,
    systemdMajor: 257,
    chipsetDrivers: { "8086:2922": "ahci" },
    hostApt: false,
    ignoreValidUntil: false,
    libvirt: true,
  },
  forky: {
    name: "forky",
    label: "Debian testing",
    nodeMajor: 24,
    systemdMajor: 262,
    chipsetDrivers: { "8086:2922": "ahci" },
    hostApt: false,
    ignoreValidUntil: true,
    libvirt: false,
  },
};

export const DEFAULT_RELEASE = "bookworm";

/** The release named by VFIO_AUTOBIND_RELEASE (bookworm when unset); an unknown name is a one-line error. */
export function releaseNamed(name: string | undefined): DebianRelease {
  const release = RELEASES[name === undefined || name === "" ? DEFAULT_RELEASE : name];
  if (release === undefined)
    throw new Error(
      `VFIO_AUTOBIND_RELEASE=${name}: not a release the VM suites know (${Object.keys(RELEASES).join(", ")})`,
    );
  return release;
}
