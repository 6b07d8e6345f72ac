/**
 * The per-key lock (src/lock/deviceLock.ts): behaviour in one process, and across processes
 * on every Node major the tests run (scripts/testNodes.mjs), each child loading the real
 * module, bundled, so it locks exactly as the CLI and the udev helper would.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RuntimeFailure } from "../../src/errors.js";
import { acquireLock, LockError } from "../../src/lock/deviceLock.js";
import { assertTestNode, TEST_NODES, type TestNode } from "../support/testNodes.js";

const SOURCE = fileURLToPath(new URL("../../src/lock/deviceLock.ts", import.meta.url));
const KEY = "device-0000:3b:00.2";

let tmp: string;
let lockDir: string;
let bundle: string;
let caseNumber = 0;

const WORKER = `
const fs = require("node:fs");
const { acquireLock } = require(process.argv[2]);
const [lockDir, key, log, holdMs] = process.argv.slice(3);
(async () => {
  const lock = await acquireLock(lockDir, key, { timeoutMs: 30000 });
  fs.appendFileSync(log, "enter " + process.pid + "\\n");
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  fs.appendFileSync(log, "exit " + process.pid + "\\n");
  lock.release();
})().catch((error) => { console.error(error.message); process.exit(1); });
`;

/** One attempt that does not wait: prints "locked", or the error's message. */
const TRY = `
const { acquireLock } = require(process.argv[2]);
acquireLock(process.argv[3], process.argv[4], { timeoutMs: 0 }).then(
  (lock) => { lock.release(); console.log("locked"); },
  (error) => console.log(error.message),
);
`;

const HOLDER = `
const { acquireLock } = require(process.argv[2]);
const [lockDir, key] = process.argv.slice(3);
acquireLock(lockDir, key, { timeoutMs: 5000 }).then(
  () => { process.stdout.write("locked\\n"); setInterval(() => {}, 60000); },
  (error) => { console.error(error.message); process.exit(1); },
);
`;

/** A child process on `node` running one of the scripts above. */
const child = (node: TestNode, script: string, args: string[]) =>
  execa(node.binary, [path.join(tmp, script), bundle, ...args], { reject: false });

/** A child on `node` that holds the lock for `key` until killed; resolves once it holds it. */
async function startHolder(node: TestNode, key: string) {
  assertTestNode(node);
  const holder = child(node, "holder.cjs", [lockDir, key]);
  // Wrapped: a subprocess is a promise of its end, which an async function would wait for.
  await new Promise<void>((resolve, reject) => {
    let out = "";
    holder.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("locked\n")) resolve();
    });
    void holder.then((result) => reject(new Error(`holder on ${node.name} exited early: ${result.stderr}`)));
  });
  return { holder };
}

/** Starts one worker per entry of `nodes` on the same key at once; each must hold it alone. */
async function expectOneAtATime(nodes: readonly TestNode[]): Promise<void> {
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const log = path.join(path.dirname(lockDir), "log");
  const children = nodes.map((node) => child(node, "worker.cjs", [lockDir, KEY, log, "20"]));
  const results = await Promise.all(children);
  for (const result of results) {
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
  }
  const lines = fs.readFileSync(log, "utf8").trimEnd().split("\n");
  expect(lines).toHaveLength(2 * nodes.length);
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i += 2) {
    const enter = /^enter (\d+)$/.exec(lines[i] ?? "");
    const exit = /^exit (\d+)$/.exec(lines[i + 1] ?? "");
    expect(enter, `line ${i + 1}: ${lines[i]}`).not.toBeNull();
    expect(exit, `line ${i + 2}: ${lines[i + 1]}`).not.toBeNull();
    expect(exit?.[1]).toBe(enter?.[1]);
    seen.add(enter?.[1] ?? "");
  }
  expect([...seen].sort()).toEqual(children.map((c) => String(c.pid)).sort());
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-autobind-lock-"));
  bundle = path.join(tmp, "deviceLock.cjs");
  await build({
    entryPoints: [SOURCE],
    outfile: bundle,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    logLevel: "warning",
  });
  fs.writeFileSync(path.join(tmp, "worker.cjs"), WORKER);
  fs.writeFileSync(path.join(tmp, "holder.cjs"), HOLDER);
  fs.writeFileSync(path.join(tmp, "try.cjs"), TRY);
});

afterAll(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  // A fresh, not yet existing lock directory per test, so tests cannot see each other's locks.
  caseNumber += 1;
  lockDir = path.join(tmp, `case-${caseNumber}`, "locks");
});

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function openFdCount(): number {
  return fs.readdirSync("/proc/self/fd").length;
}

async function lockError(promise: Promise<unknown>): Promise<LockError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LockError);
  expect(error).toBeInstanceOf(RuntimeFailure);
  const message = (error as LockError).message;
  expect(message).not.toContain("\n");
  return error as LockError;
}

describe("acquireLock in one process", () => {
  it("creates the directory and file, writes our pid, and keeps the file on release", async () => {
    const lock = await acquireLock(lockDir, KEY, { timeoutMs: 1000 });
    expect(lock.file).toBe(path.join(lockDir, `${KEY}.lock`));
    expect(fs.statSync(lockDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(lock.file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(lock.file, "utf8")).toBe(`${process.pid}\n`);
    lock.release();
    lock.release(); // a second release is harmless
    expect(fs.existsSync(lock.file)).toBe(true);
  });

  it("makes a second acquirer time out naming the holder, and lets it in after release", async () => {
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 1000 });
    const fdsBefore = openFdCount();

    const started = Date.now();
    const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 300 }));
    const waited = Date.now() - started;
    expect(error.message).toBe(`timed out after 0.3 s waiting for lock ${first.file} (held by pid ${process.pid})`);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2000);
    // The failed attempt closed its descriptor.
    expect(openFdCount()).toBe(fdsBefore);

    const busy = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
    expect(busy.message).toBe(`lock ${first.file} is busy (held by pid ${process.pid})`);

    first.release();
    const second = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    second.release();
  });

  it("says 'another process' when the holder's pid cannot be read", async () => {
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 1000 });
    fs.truncateSync(first.file, 0);
    const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 100 }));
    expect(error.message).toMatch(/\(held by another process\)$/);
    first.release();
  });

  it("hands the lock to a waiter as soon as the holder releases", async () => {
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 1000 });
    const waiter = acquireLock(lockDir, KEY, { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const released = Date.now();
    first.release();
    const second = await waiter;
    expect(Date.now() - released).toBeLessThan(2000);
    second.release();
  });

  it("keeps different keys independent", async () => {
    const a = await acquireLock(lockDir, "group-12", { timeoutMs: 0 });
    const b = await acquireLock(lockDir, "group-13", { timeoutMs: 0 });
    a.release();
    b.release();
  });
});

describe.each(TEST_NODES)("acquireLock across processes on $name", (node) => {
  it("keeps different keys independent", async () => {
    const { holder } = await startHolder(node, "group-12");
    try {
      // Another key is taken at once (the holder script gives up after 5 s)...
      const { holder: other } = await startHolder(node, "group-13");
      other.kill("SIGKILL");
      // ...and the same key still waits.
      const waiter = child(node, "worker.cjs", [lockDir, "group-12", path.join(tmp, `log-${caseNumber}`), "0"]);
      const first = await Promise.race([waiter, sleepMs(500).then(() => "still waiting")]);
      expect(first).toBe("still waiting");
      waiter.kill("SIGKILL");
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("lets exactly one of 24 concurrent processes in at a time", async () => {
    assertTestNode(node);
    await expectOneAtATime(Array.from({ length: 24 }, () => node));
  });

  it("is released by the kernel when the holder is SIGKILLed", async () => {
    const { holder } = await startHolder(node, KEY);
    try {
      const busy = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
      expect(busy.message).toContain(`held by pid ${String(holder.pid)}`);

      // Already waiting when the holder dies: the kernel's release must wake it.
      const waiter = acquireLock(lockDir, KEY, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const killed = Date.now();
      holder.kill("SIGKILL");
      const lock = await waiter;
      expect(Date.now() - killed).toBeLessThan(2000);
      expect(fs.readFileSync(lock.file, "utf8")).toBe(`${process.pid}\n`);
      lock.release();
      expect((await holder).signal).toBe("SIGKILL");
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

describe("acquireLock between Node majors on one host", () => {
  it.each(TEST_NODES)("a lock held on $name keeps every other major out", async (node) => {
    const { holder } = await startHolder(node, KEY);
    try {
      for (const other of TEST_NODES.filter((n) => n !== node)) {
        assertTestNode(other);
        const attempt = await child(other, "try.cjs", [lockDir, KEY]);
        expect({ on: other.name, said: attempt.stdout }).toEqual({
          on: other.name,
          said: `lock ${path.join(lockDir, `${KEY}.lock`)} is busy (held by pid ${String(holder.pid)})`,
        });
      }
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("lets exactly one of 24 concurrent processes in at a time, six on each major", async () => {
    for (const node of TEST_NODES) assertTestNode(node);
    await expectOneAtATime(Array.from({ length: 24 }, (_, i) => TEST_NODES[i % TEST_NODES.length] as TestNode));
  });
});

describe("acquireLock failures", () => {
  it("rejects invalid keys", async () => {
    for (const key of ["", "../etc/passwd", "a/b", "a b", "x\n", "dev*"]) {
      const error = await lockError(acquireLock(lockDir, key, { timeoutMs: 0 }));
      expect(error.message).toBe(`invalid lock key ${JSON.stringify(key)}`);
    }
    expect(fs.existsSync(lockDir)).toBe(false);
  });

  it("names the lock directory it cannot create", async () => {
    const plain = path.join(tmp, `case-${caseNumber}-file`);
    fs.writeFileSync(plain, "");
    const impossible = path.join(plain, "locks");
    const error = await lockError(acquireLock(impossible, KEY, { timeoutMs: 0 }));
    expect(error.message).toBe(`cannot create lock directory ${impossible}: ENOTDIR`);
  });

  it("names the lock file it cannot open", async () => {
    const file = path.join(lockDir, `${KEY}.lock`);
    fs.mkdirSync(file, { recursive: true });
    const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
    expect(error.message).toBe(`cannot create lock ${file}: EISDIR`);
  });

  it.skipIf(process.getuid?.() === 0)("names an unwritable lock directory (non-root only)", async () => {
    fs.mkdirSync(lockDir, { recursive: true, mode: 0o500 });
    const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
    expect(error.message).toBe(`cannot create lock ${path.join(lockDir, `${KEY}.lock`)}: EACCES`);
  });

  it("never follows a symlink planted as the lock file", async () => {
    fs.mkdirSync(lockDir, { recursive: true });
    const target = path.join(lockDir, "target");
    fs.writeFileSync(target, "untouched\n");
    const file = path.join(lockDir, `${KEY}.lock`);
    fs.symlinkSync(target, file);
    const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
    expect(error.message).toBe(`cannot create lock ${file}: ELOOP`);
    expect(fs.readFileSync(target, "utf8")).toBe("untouched\n");
  });

  it("says in one line that flock(1) is missing, and leaks no descriptor", async () => {
    const empty = path.join(tmp, `case-${caseNumber}-no-tools`);
    fs.mkdirSync(empty, { recursive: true });
    const fdsBefore = openFdCount();
    const saved = process.env["PATH"];
    process.env["PATH"] = empty;
    try {
      const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
      expect(error.message).toBe("flock(1) not found; install util-linux");
    } finally {
      process.env["PATH"] = saved;
    }
    expect(openFdCount()).toBe(fdsBefore);
  });

  it("rejects a negative or non-finite timeout", async () => {
    await lockError(acquireLock(lockDir, KEY, { timeoutMs: -1 }));
    await lockError(acquireLock(lockDir, KEY, { timeoutMs: Number.NaN }));
  });
});
