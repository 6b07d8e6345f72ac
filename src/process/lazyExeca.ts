/**
 * execa, loaded on first use. Under `node --jitless` execa's start-up costs about a third of
 * Node's own, and a udev event that only decides never spawns anything, so nothing imports
 * execa at the top of a module: every child process goes through here.
 */
import type { execa as Execa } from "execa";

let loaded: Promise<typeof Execa> | undefined;

export function loadExeca(): Promise<typeof Execa> {
  loaded ??= import("execa").then((module) => module.execa);
  return loaded;
}
