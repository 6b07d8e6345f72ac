/** Real module index data for the table tests. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";

/** Beside this file in the repository; from the repository root when bundled into bench/. */
export const FIXTURES =
  [path.resolve(__dirname, "../test/fixtures"), path.resolve("test/fixtures")].find((dir) => fs.existsSync(dir)) ??
  path.resolve("test/fixtures");

/** modules.alias that depmod wrote for Debian's 6.1 amd64 kernel (scripts/make-debian-alias-fixture.sh). */
export function debianModulesAlias(): string {
  const file = fs.readdirSync(FIXTURES).find((f) => /^debian-.*\.modules\.alias\.gz$/.test(f));
  if (file === undefined) throw new Error("no Debian modules.alias fixture in test/fixtures");
  return gunzipSync(fs.readFileSync(path.join(FIXTURES, file))).toString("latin1");
}

export function mainlineVariantsAlias(): string {
  return fs.readFileSync(path.join(FIXTURES, "mainline-variants.modules.alias"), "latin1");
}

/** A modules directory in a temporary folder holding the given files. */
export function makeModulesDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-modules-"));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content, "latin1");
  return dir;
}
