/**
 * The fleet suite's machine: the VM suites' TCG q35 with the emulated IOMMU, a virtio NIC
 * on user-mode networking whose port 22 is forwarded to 127.0.0.1 on the host (Ansible's
 * way in), and three NVMe controllers for the claims. NVMe's driver is built into the
 * cloud kernel, so each is on nvme from boot until a claim takes it.
 */
import { rootInInitramfsArgv } from "../../host/qemuCommand.js";

export const GUEST_MAC = "52:54:00:fe:00:01";

/** The controllers the playbooks claim, by address. */
export const NVME = {
  a: "0000:00:05.0",
  b: "0000:00:06.0",
  c: "0000:00:07.0",
} as const;

export function fleetQemuArgv(
  files: { kernel: string; initrd: string; consoleLog: string },
  sshPort: number,
): string[] {
  return [
    ...rootInInitramfsArgv(files, []),
    "-netdev",
    `user,id=net0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
    "-device",
    `virtio-net-pci,netdev=net0,mac=${GUEST_MAC},addr=0x3`,
    ...Object.entries(NVME).flatMap(([name, address]) => [
      "-device",
      `nvme,serial=fleet-${name},addr=0x${address.slice(8, 10)}`,
    ]),
  ];
}
