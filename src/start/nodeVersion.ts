/**
 * The oldest Node the bundle runs on, checked before anything else is loaded: RHEL 9's
 * default stream is Node 16, where the bundle cannot run, and a crash there would say
 * nothing useful. Pure, and free of imports, so it runs first on any Node.
 */
export const MINIMUM_NODE = { major: 18, minor: 19 } as const;

/** Why this Node cannot run vfio-autobind (one line), or null when it can. */
export function nodeVersionRefusal(version: string, executable: string = "node"): string | null {
  const match = /^v?(\d+)\.(\d+)\./.exec(version);
  const major = match === null ? Number.NaN : Number(match[1]);
  const minor = match === null ? Number.NaN : Number(match[2]);
  if (major > MINIMUM_NODE.major || (major === MINIMUM_NODE.major && minor >= MINIMUM_NODE.minor)) return null;
  return `Node.js ${version} at ${executable} is too old: vfio-autobind needs Node.js ${MINIMUM_NODE.major}.${MINIMUM_NODE.minor} or later`;
}
