/** The selector options of `claim` and `unclaim`, and the claim request they make. */
import type { Argv } from "yargs";
import type { ClaimRequest } from "../config/claimWriter.js";

/** The selector options shared by claim and unclaim. */
export function claimOptions<T>(y: Argv<T>) {
  return y
    .positional("selectors", {
      type: "string",
      array: true,
      describe: "PCI addresses or globs (0000:3b:00.2, 0000:3b:00.*)",
    })
    .option("ids", {
      type: "string",
      array: true,
      requiresArg: true,
      describe: "vendor:device[:subvendor:subdevice], e.g. 15b3:101e",
    })
    .option("class", {
      type: "string",
      array: true,
      requiresArg: true,
      describe: "class code 0xBB, 0xBBSS or 0xBBSSPP, e.g. 0x0302",
    })
    .option("vfs-of", {
      type: "string",
      array: true,
      requiresArg: true,
      describe: "the VFs of this PF, e.g. 0000:3b:00.0",
    });
}

/** The claim or exclusion the command line asks for. */
export function claimRequestFrom(args: {
  selectors?: string[] | undefined;
  ids?: string[] | undefined;
  class?: string[] | undefined;
  "vfs-of"?: string[] | undefined;
  exclude: boolean;
  driver?: string | undefined;
  group?: string | undefined;
  force?: boolean | undefined;
  owner?: string | undefined;
  mode?: string | undefined;
}): ClaimRequest {
  return {
    addresses: args.selectors ?? [],
    ids: args.ids ?? [],
    classes: args.class ?? [],
    vfsOf: args["vfs-of"] ?? [],
    exclude: args.exclude,
    ...(args.driver !== undefined ? { driver: args.driver } : {}),
    ...(args.group !== undefined ? { group: args.group } : {}),
    force: args.force ?? false,
    ...(args.owner !== undefined ? { owner: args.owner } : {}),
    ...(args.mode !== undefined ? { mode: args.mode } : {}),
  };
}
