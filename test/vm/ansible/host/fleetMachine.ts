/**
 * The fleet suite's machine as its playbooks see it: the NIC's address (the root's network
 * configuration names it) and three NVMe controllers for the claims.
 */
export const GUEST_MAC = "52:54:00:fe:00:01";

/** The controllers the playbooks claim, by address. */
export const NVME = {
  a: "0000:00:05.0",
  b: "0000:00:06.0",
  c: "0000:00:07.0",
} as const;
