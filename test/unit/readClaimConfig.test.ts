import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatConfigError, parseClaimFile } from "../../src/config/claimConfig.js";
import { MAX_CONFIG_FILES, readClaimConfig } from "../../src/config/readClaimConfig.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-read-config-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const GOOD = "[Claim]\nAddress=0000:3b:00.2\n";
// eslint-disable-next-line no-control-regex -- what must never reach a terminal
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe("readClaimConfig refuses what is not a claim file", () => {
  it("refuses /dev/zero behind a *.conf symlink instead of reading it until memory runs out", () => {
    fs.writeFileSync(path.join(dir, "10-good.conf"), GOOD);
    fs.symlinkSync("/dev/zero", path.join(dir, "20-zero.conf"));
    const config = readClaimConfig(dir);
    expect(config.errors.map(formatConfigError)).toEqual([
      `${dir}/20-zero.conf: a character device, not a regular file; not read`,
    ]);
  });

  it("refuses a FIFO named *.conf at once instead of waiting on it", () => {
    const fifo = path.join(dir, "10-fifo.conf");
    execFileSync("mkfifo", [fifo]);
    // A writer holding the FIFO open for a second: a blocking read would wait, then see an empty file.
    const writer = spawn("sh", ["-c", `exec 3>"$1"; sleep 1`, "sh", fifo], { stdio: "ignore" });
    try {
      expect(readClaimConfig(dir).errors.map(formatConfigError)).toEqual([
        `${fifo}: a FIFO, not a regular file; not read`,
      ]);
    } finally {
      writer.kill();
    }
  });

  it("refuses a file over 1 MiB with its size, and echoes nothing of it", () => {
    fs.writeFileSync(path.join(dir, "10-big.conf"), `[Claim]\nAddress=${"7".repeat(20 * 1024 * 1024)}\n`);
    const config = readClaimConfig(dir);
    expect(config.errors.map(formatConfigError)).toEqual([
      `${dir}/10-big.conf: ${20 * 1024 * 1024 + 17} bytes, more than the 1048576 allowed; not read`,
    ]);
  });

  it("refuses more than the allowed number of files", () => {
    for (let i = 0; i <= MAX_CONFIG_FILES; i += 1) fs.writeFileSync(path.join(dir, `${i}.conf`), GOOD);
    const config = readClaimConfig(dir);
    expect(config.claims).toEqual([]);
    expect(config.errors.map(formatConfigError)).toEqual([
      `${dir}: ${MAX_CONFIG_FILES + 1} *.conf files, more than the ${MAX_CONFIG_FILES} allowed; none read`,
    ]);
  });

  it("refuses a file name with control characters, quoting it", () => {
    fs.writeFileSync(path.join(dir, "\u001b[2J.conf"), GOOD);
    const messages = readClaimConfig(dir).errors.map(formatConfigError);
    expect(messages).toEqual([`${dir}: "\\u001b[2J.conf": a file name with control characters; not read`]);
  });

  it("does not echo the lines of a symlinked secret file", () => {
    const secret = path.join(dir, "shadow");
    fs.writeFileSync(
      secret,
      "root:$6$s3cr3tHash$abcdef:19000:0:99999:7:::\nAPI_TOKEN=sk_live_s3cr3t\n[s3cr3t section]\ntoken = s3cr3t\n",
    );
    fs.symlinkSync(secret, path.join(dir, "10-leak.conf"));
    const messages = readClaimConfig(dir).errors.map(formatConfigError);
    expect(messages).toEqual([
      `${dir}/10-leak.conf:1: expected Key=Value, a [Section] header or a # comment`,
      `${dir}/10-leak.conf:2: expected Key=Value, a [Section] header or a # comment`,
      `${dir}/10-leak.conf:3: unknown section; expected [Claim] or [Exclude]`,
    ]);
  });
});

describe("parseClaimFile echoes values quoted, escaped and cut short", () => {
  it("escapes terminal control sequences in a value", () => {
    const config = parseClaimFile("[Claim]\nAddress=\u001b]0;pwned\u0007\u001b[2J\n", "f.conf");
    expect(config.errors.map(formatConfigError)).toEqual([
      'f.conf:2: Address="\\u001b]0;pwned\\u0007\\u001b[2J": expected a PCI address such as 0000:3b:00.2 or a glob such as 0000:3b:00.*',
    ]);
  });

  it("cuts a long value to 60 characters and says how long it was", () => {
    const config = parseClaimFile(`[Claim]\nAddress=0000:3b:00.2\nDriver=${"x/".repeat(250_000)}\n`, "f.conf");
    const message = config.errors[0]?.message ?? "";
    expect(message).toBe(
      `Driver="${"x/".repeat(30)}..." (500000 characters): expected auto or a module or driver name such as vfio_pci or vfio-pci`,
    );
  });

  it("does not echo a key name longer than a key", () => {
    const config = parseClaimFile(`[Claim]\n${"K".repeat(10_000)}=1\n`, "f.conf");
    expect(config.errors[0]?.message).toMatch(/^unknown key "K{32}\.\.\." \(10000 characters\)=; a \[Claim\] takes/);
  });

  it("refuses Force=constructor (an object literal's prototype said yes)", () => {
    const config = parseClaimFile("[Claim]\nAddress=0000:3b:00.2\nForce=constructor\n", "f.conf");
    expect(config.errors.map((e) => e.message)).toEqual(['Force="constructor": expected yes or no']);
  });

  it("never puts a control character in a message, and keeps each short, whatever the text", () => {
    const piece = fc.oneof(
      fc.constantFrom("[Claim]", "[Exclude]", "\n", "Address=", "Driver=", "Force=", "Group=", "Ids=", "=", " ", "#"),
      fc.string({ unit: "binary", maxLength: 200 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        for (const error of parseClaimFile(pieces.join(""), "f.conf").errors) {
          const message = formatConfigError(error);
          expect(message).not.toMatch(CONTROL);
          expect(message.length).toBeLessThan(600);
        }
      }),
      { numRuns: 2000, seed: 9 },
    );
  });
});
