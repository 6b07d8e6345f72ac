/**
 * The boot files as the packages ship them: packaging/files/boot with the program's paths
 * filled in by packaging/layout.mjs (fillPaths), the same step the package build takes.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const REPO = path.resolve(__dirname, "../../..");
const BOOT_SOURCES = path.join(REPO, "packaging/files/boot");

interface Filler {
  fillPaths(text: string, source: string): string;
}
const layout = (await import(pathToFileURL(path.join(REPO, "packaging/layout.mjs")).href)) as Filler;

/** One boot file's installed text, by its name in packaging/files/boot. */
export function filledBootFile(name: string): string {
  const source = path.join(BOOT_SOURCES, name);
  return layout.fillPaths(fs.readFileSync(source, "utf8"), source);
}

/** A temporary directory holding every boot file as installed, same names and modes; the caller removes it. */
export function filledBootDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-boot-files-"));
  for (const name of fs.readdirSync(BOOT_SOURCES)) {
    const mode = fs.statSync(path.join(BOOT_SOURCES, name)).mode & 0o777;
    fs.writeFileSync(path.join(dir, name), filledBootFile(name), { mode });
  }
  return dir;
}
