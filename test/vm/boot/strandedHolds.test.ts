/**
 * Every way a hold can outlive its decision ends with the device on a driver, on a real
 * two-stage boot:
 * - `hazards`: a claim selects the root disk's model, and netLate was unclaimed after the
 *   initramfs was built. The machine boots, the root disk on its host driver; netLate goes
 *   to its host driver as the stale hold it is.
 * - `helper-fails`: the same image, the helper's state directory unusable and the claimed
 *   devices' variant failing its probe: the helper's fail-open hands them to the kernel.
 * - `removed` and `removed-old-initramfs`: the package removed after the claims reached
 *   the initramfs; with the rebuilt initramfs and with the old one, nothing is held or
 *   bound by vfio-autobind.
 */
import { expect, it } from "vitest";
import { HOLD_OVERRIDE } from "../../../src/policy/hold.js";
import { IMAGES, devices, fixtures, vfioDrivers, type BootDevice } from "./shared/bootMachine.js";
import { toolLines } from "./shared/bootProtocol.js";
import { bootReport, bootResult, describeBoot, hostDriverBuiltIn } from "./bootReport.js";
import type { BootRecord } from "./host/bootReport.js";

const deviceIn = (boot: BootRecord, device: BootDevice) =>
  boot.observation?.devices.find((d) => d.address === device.address);

/** The hold script's kernel-log line for a device it let go of, for the reason `why`. */
const releasedLine = (boot: BootRecord, device: BootDevice, why: string): string[] =>
  (boot.observation?.kernelLog ?? []).filter(
    (line) =>
      line.includes(`vfio-autobind: ${device.address}: ${why}`) && line.includes("hold cleared, the kernel probed it"),
  );

const STALE = "held by an older initramfs";
const STORAGE = "a storage controller held while the root device has not appeared";
const NOTHING_LEFT = "still held, and nothing is left to bind it";

/** Nothing carries the hold once udev and the helper are done. */
function nothingHeld(boot: BootRecord): void {
  const held = (boot.observation?.devices ?? []).filter((d) => d.override === HOLD_OVERRIDE);
  expect(held).toEqual([]);
}

describeBoot("boot hazards (a claim on the root disk's model, a stale initramfs)", () => {
  const boot = bootResult("hazards");

  it("boots, and the root disk ends on its host driver", () => {
    const root = deviceIn(boot(), devices.rootDisk);
    expect(root?.driver).toBe(devices.rootDisk.hostDriver);
    expect(root?.override).toBeNull();
  });

  it.runIf(hostDriverBuiltIn(devices.rootDisk))(
    "the root disk's driver is built in: it had the disk before any hold, and the initramfs never held it",
    () => {
      const log = boot().observation?.kernelLog ?? [];
      expect(log.filter((line) => line.includes(`vfio-autobind: holding ${devices.rootDisk.address}`))).toEqual([]);
      expect(
        boot()
          .kernelBinds.filter((b) => b.address === devices.rootDisk.address)
          .map((b) => b.driver),
      ).toEqual([devices.rootDisk.hostDriver]);
    },
  );

  it.runIf(!hostDriverBuiltIn(devices.rootDisk))(
    "the initramfs held the root disk, then let it go while the root device was late",
    () => {
      const log = boot().observation?.kernelLog ?? [];
      expect(log.some((line) => line.includes(`vfio-autobind: holding ${devices.rootDisk.address}`))).toBe(true);
      expect(releasedLine(boot(), devices.rootDisk, STORAGE)).toHaveLength(1);
    },
  );

  it("in the real root, the helper leaves the mounted root disk on its driver and says why", () => {
    const lines = toolLines(boot().observation?.toolJournal ?? []).filter((l) => l.includes(devices.rootDisk.address));
    expect(lines.length, lines.join("\n")).toBeGreaterThan(0);
    expect(lines.join("\n")).toContain("is mounted on /");
  });

  it("the device unclaimed after the initramfs was built ends on its host driver, and one line says why", () => {
    const late = deviceIn(boot(), devices.netLate);
    expect(late?.driver).toBe(devices.netLate.hostDriver);
    expect(late?.override).toBeNull();
    // A built-in host driver had it before the stale hold could be set: nothing to let go of.
    expect(releasedLine(boot(), devices.netLate, STALE)).toHaveLength(hostDriverBuiltIn(devices.netLate) ? 0 : 1);
  });

  it("the devices still claimed are bound to their VFIO drivers", () => {
    expect(deviceIn(boot(), devices.netClaimed)?.driver).toBe(fixtures.subsys.driver);
    expect(deviceIn(boot(), devices.netPinned)?.driver).toBe(fixtures.subsys.driver);
  });

  it("nothing is held after boot", () => nothingHeld(boot()));
});

describeBoot("boot helper-fails (state directory unusable, the variant's probe fails)", () => {
  const boot = bootResult("helper-fails");
  const claimedNets = [devices.netClaimed, devices.netPinned];

  it("the claimed devices end on their host drivers, no override left", () => {
    for (const device of claimedNets) {
      const state = deviceIn(boot(), device);
      expect(state?.driver, device.address).toBe(device.hostDriver);
      expect(state?.override, device.address).toBeNull();
    }
  });

  it("the helper let go of them itself, and its line says why", () => {
    for (const device of claimedNets) {
      const lines = toolLines(boot().observation?.toolJournal ?? []).filter((l) => l.includes(device.address));
      // A built-in host driver had them before any hold: the helper, unable to read its
      // state, leaves them there and names the file.
      expect(lines.join("\n"), device.address).toMatch(
        hostDriverBuiltIn(device) ? /cannot read \/run\/vfio-autobind\/devices\/.*: ENOTDIR/ : /cleared/,
      );
      if (hostDriverBuiltIn(device))
        expect(
          boot()
            .kernelBinds.filter((b) => b.address === device.address)
            .map((b) => b.driver),
        ).toEqual([device.hostDriver]);
      // Not the sweep's doing.
      expect(releasedLine(boot(), device, NOTHING_LEFT), device.address).toEqual([]);
    }
  });

  it("the root disk stays on its host driver", () => {
    expect(deviceIn(boot(), devices.rootDisk)?.driver).toBe(devices.rootDisk.hostDriver);
  });

  it("nothing is held after boot", () => nothingHeld(boot()));
});

describeBoot("the package removed", () => {
  it("dpkg -r rebuilt the initramfs through initramfs-tools' trigger", () => {
    const image = bootReport?.images.find((i) => i.name === "removed");
    const removal = image?.claimRuns.find((run) => run.argv[0] === "dpkg");
    expect(removal?.output).toMatch(/update-initramfs: Generating \/boot\/initrd\.img-/);
  });

  for (const name of ["removed", "removed-old-initramfs"]) {
    describeBoot(`boot ${name}`, () => {
      const boot = bootResult(name);

      it("no device is bound to a VFIO driver or has an override", () => {
        for (const device of boot().observation?.devices ?? []) {
          expect(vfioDrivers, device.address).not.toContain(device.driver);
          expect(device.override, device.address).toBeNull();
        }
        expect(boot().kernelBinds.filter((b) => vfioDrivers.includes(b.driver))).toEqual([]);
      });

      it("the devices the claims named end on their host drivers", () => {
        for (const device of [devices.netClaimed, devices.netPinned])
          expect(deviceIn(boot(), device)?.driver, device.address).toBe(device.hostDriver);
      });
    });
  }

  describeBoot("boot removed-old-initramfs", () => {
    const boot = bootResult("removed-old-initramfs");
    it.runIf(!hostDriverBuiltIn(devices.netClaimed))(
      "the old initramfs held the claimed devices, and let go of them before switch_root",
      () => {
        const log = boot().observation?.kernelLog ?? [];
        for (const device of [devices.netClaimed, devices.netPinned]) {
          expect(
            log.some((line) => line.includes(`vfio-autobind: holding ${device.address}`)),
            device.address,
          ).toBe(true);
          expect(releasedLine(boot(), device, NOTHING_LEFT), device.address).toHaveLength(1);
        }
      },
    );
  });

  describeBoot("boot removed", () => {
    const boot = bootResult("removed");
    it("the rebuilt initramfs holds nothing", () => {
      expect((boot().observation?.kernelLog ?? []).filter((line) => line.includes("vfio-autobind: holding"))).toEqual(
        [],
      );
      expect(IMAGES.removed.claimed).toEqual([]);
    });
  });
});
