/**
 * Kubernetes device plugins beside vfio-autobind: KubeVirt's PCI host-device plugin and the
 * SR-IOV network device plugin take only devices whose driver is exactly vfio-pci, and skip
 * one on a variant driver (or give it no /dev/vfio mounts). So where the best driver is a
 * variant, `explain` says which claim keeps such a device usable by them. Pure.
 */
import { GENERIC_VFIO_DRIVER, GENERIC_VFIO_MODULE } from "../alias/aliasRecords.js";

/** The note for a device whose best VFIO driver is `best`, or null when it is vfio-pci (or none). */
export function devicePluginNote(
  address: string,
  best: { module: string; driver: string | null } | null,
): string | null {
  if (best === null || best.module === GENERIC_VFIO_MODULE) return null;
  return (
    `Kubernetes device plugins (KubeVirt's PCI host devices, the SR-IOV network device plugin) take only devices on ` +
    `${GENERIC_VFIO_DRIVER} and skip one on ${best.driver ?? best.module}; for them, claim it with ` +
    `Driver=${GENERIC_VFIO_DRIVER} in its claim file (vfio-autobind claim ${address} --driver ${GENERIC_VFIO_DRIVER})`
  );
}
