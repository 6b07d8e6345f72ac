/**
 * What `claim` writes: one drop-in file per claim made from the command line, named after
 * its first selector, so that `unclaim` with the same selectors finds it again. Pure.
 */
export interface ClaimRequest {
  readonly addresses: readonly string[];
  readonly ids: readonly string[];
  readonly classes: readonly string[];
  readonly vfsOf: readonly string[];
  readonly exclude: boolean;
  readonly driver?: string;
  readonly group?: string;
  readonly force: boolean;
}

export function claimFileName(request: ClaimRequest): string {
  const first =
    [
      ...request.addresses,
      ...request.vfsOf.map((pf) => `vfs-of-${pf}`),
      ...request.ids,
      ...request.classes.map((c) => `class-${c}`),
    ][0] ?? "empty";
  const slug = first
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return `50-${request.exclude ? "exclude" : "claim"}-${slug}.conf`;
}

export function claimFileText(request: ClaimRequest, command: string): string {
  const lines = [
    `# Written by: ${command}`,
    `# Remove with "vfio-autobind unclaim" and the same selectors, or edit by hand and run "vfio-autobind apply".`,
  ];
  lines.push(request.exclude ? "[Exclude]" : "[Claim]");
  if (request.addresses.length > 0) lines.push(`Address=${request.addresses.join(" ")}`);
  if (request.ids.length > 0) lines.push(`Ids=${request.ids.join(" ")}`);
  if (request.classes.length > 0) lines.push(`Class=${request.classes.join(" ")}`);
  if (request.vfsOf.length > 0) lines.push(`VfsOf=${request.vfsOf.join(" ")}`);
  if (!request.exclude) {
    if (request.driver !== undefined) lines.push(`Driver=${request.driver}`);
    if (request.group !== undefined) lines.push(`Group=${request.group}`);
    if (request.force) lines.push("Force=yes");
  }
  return `${lines.join("\n")}\n`;
}
