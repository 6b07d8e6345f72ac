import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RuntimeFailure } from "../../src/errors.js";
import { acquireLock, defaultLockMethod, LockError } from "../../src/lock/deviceLock.js";

const SOURCE = fileURLToPath(new URL("../../src/lock/deviceLock.ts", import.meta.url));
const KEY = "device-0000:3b:00.2";

let tmp: string;
let lockDir: string;
let bundle: string;
let caseNumber = 0;

// Child processes load the real module, bundled, so they lock exactly as the CLI would; the
// way they hold it (LOCK_METHOD) is their Node's default unless a test says otherwise.
const WORKER = `
const fs = require("node:fs");
const { acquireLock } = require(process.argv[2]);
const [lockDir, key, log, holdMs] = process.argv.slice(3);
const method = process.env.LOCK_METHOD ? { method: process.env.LOCK_METHOD } : {};
(async () => {
  const lock = await acquireLock(lockDir, key, { timeoutMs: 30000, ...method });
  fs.appendFileSync(log, "enter " + process.pid + "\\n");
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  fs.appendFileSync(log, "exit " + process.pid + "\\n");
  lock.release();
})().catch((error) => { console.error(error.message); process.exit(1); });
`;

const HOLDER = `
const { acquireLock } = require(process.argv[2]);
const [lockDir, key] = process.argv.slice(3);
const method = process.env.LOCK_METHOD ? { method: process.env.LOCK_METHOD } : {};
acquireLock(lockDir, key, { timeoutMs: 5000, ...method }).then(
  () => { process.stdout.write("locked\\n"); setInterval(() => {}, 60000); },
  (error) => { console.error(error.message); process.exit(1); },
);
`;

// A Node without the pipe_wrap binding, for the lock's fallback to net.Server.
const NO_PIPE_WRAP = `
const binding = process.binding;
process.binding = (name) => { if (name === "pipe_wrap") throw new Error("No such module: pipe_wrap"); return binding(name); };
`;

// Node's own Linux build of 18.x (libuv 1.44: no abstract names), fetched by npm test's pretest.
const NODE18 = fileURLToPath(new URL("../../node_modules/.cache/node18/package/bin/node", import.meta.url));

/** Each way a child process holds the lock, with the Node and options that make it take it. */
const WAYS = [
  { way: "an abstract name on libuv's pipe handle", method: "abstract-name", node: process.execPath, env: {} },
  {
    way: "an abstract name through net.Server (no pipe_wrap binding)",
    method: "abstract-name",
    node: process.execPath,
    withoutPipeWrap: true,
    env: {},
  },
  { way: "flock(1) on Node 18 (libuv 1.44)", method: "flock", node: NODE18, env: {} },
  {
    way: "flock(1) when asked for, on this Node",
    method: "flock",
    node: process.execPath,
    env: { LOCK_METHOD: "flock" },
  },
] as const;

/** The child's argv before its script: the no-pipe_wrap preload where the way needs it. */
const childNodeArgs = (way: (typeof WAYS)[number]): string[] =>
  "withoutPipeWrap" in way ? ["-r", path.join(tmp, "no-pipe-wrap.cjs")] : [];

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
  fs.writeFileSync(path.join(tmp, "no-pipe-wrap.cjs"), NO_PIPE_WRAP);
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

  it("keeps its name root-only and replaces it on every release", async () => {
    const nameFile = path.join(lockDir, `${KEY}.name`);
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    const held = fs.readFileSync(nameFile, "utf8");
    expect(held).toMatch(/^[0-9a-f]{32}\n$/);
    expect(fs.statSync(nameFile).mode & 0o777).toBe(0o600);
    first.release();
    const next = fs.readFileSync(nameFile, "utf8");
    expect(next).toMatch(/^[0-9a-f]{32}\n$/);
    expect(next).not.toBe(held);
  });

  it("is not blocked by a squatter on a name it has used before", async () => {
    // What a local user can learn: the name bound while a holder held it (/proc/net/unix).
    const nameFile = path.join(lockDir, `${KEY}.name`);
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    const seen = fs.readFileSync(nameFile, "utf8").trimEnd();
    const unix = fs.readFileSync("/proc/net/unix", "utf8");
    expect(unix).toContain(`@vfio-autobind/lock/${seen}`);
    first.release();
    const squatter = net.createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once("error", reject);
      squatter.listen({ path: `\0vfio-autobind/lock/${seen}` }, resolve);
    });
    try {
      const second = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
      second.release();
    } finally {
      squatter.close();
    }
  });

  it("after a holder died before rotating its name, a squatter is named as such and the way out given", async () => {
    // The residual gap (deviceLock.ts header): a holder killed before it could rotate the
    // name, and a local user who saw it binds it first. The waiter must say what to do.
    const nameFile = path.join(lockDir, `${KEY}.name`);
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    const seen = fs.readFileSync(nameFile, "utf8").trimEnd();
    first.release();
    fs.writeFileSync(nameFile, `${seen}\n`); // as if the release never rotated it
    fs.writeFileSync(path.join(lockDir, `${KEY}.lock`), "2147483646\n"); // a pid that is gone
    const squatter = net.createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once("error", reject);
      squatter.listen({ path: `\0vfio-autobind/lock/${seen}` }, resolve);
    });
    try {
      await expect(acquireLock(lockDir, KEY, { timeoutMs: 0 })).rejects.toThrow(
        `(held by pid 2147483646); pid 2147483646 has exited, so another process holds the lock's name: remove ${nameFile} and try again`,
      );
      fs.rmSync(nameFile);
      const again = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
      again.release();
    } finally {
      squatter.close();
    }
  });

  it("lets no connection to the name it holds stay open (refused, or closed at once)", async () => {
    const lock = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    try {
      const name = fs.readFileSync(path.join(lockDir, `${KEY}.name`), "utf8").trimEnd();
      const closed = await new Promise<boolean>((resolve) => {
        const client = net.connect({ path: `\0vfio-autobind/lock/${name}` });
        client.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
        client.on("close", () => resolve(true));
        client.resume();
        setTimeout(() => {
          client.destroy();
          resolve(false);
        }, 2_000).unref();
      });
      expect(closed).toBe(true);
    } finally {
      lock.release();
    }
  });

  it("excludes while the name is bound, however it was bound", async () => {
    // The name file is the only thing that says which name is the lock: a process that binds
    // the current name holds it, and a second acquirer waits for it.
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    first.release();
    const current = fs.readFileSync(path.join(lockDir, `${KEY}.name`), "utf8").trimEnd();
    const other = net.createServer();
    await new Promise<void>((resolve, reject) => {
      other.once("error", reject);
      other.listen({ path: `\0vfio-autobind/lock/${current}` }, resolve);
    });
    try {
      await lockError(acquireLock(lockDir, KEY, { timeoutMs: 50 }));
    } finally {
      other.close();
    }
    const lock = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    lock.release();
  });

  it("keeps different keys independent", async () => {
    const a = await acquireLock(lockDir, "group-12", { timeoutMs: 0 });
    const b = await acquireLock(lockDir, "group-13", { timeoutMs: 0 });
    a.release();
    b.release();
  });
});

describe.each(WAYS)("acquireLock across processes, held as $way", (way) => {
  const child = (script: string, args: string[]) =>
    execa(way.node, [...childNodeArgs(way), path.join(tmp, script), bundle, ...args], {
      reject: false,
      env: way.env,
    });
  // Wrapped: a subprocess is a promise of its end, which an async function would wait for.
  const startHolder = async (key: string) => {
    const holder = child("holder.cjs", [lockDir, key]);
    await new Promise<void>((resolve, reject) => {
      let out = "";
      holder.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("locked\n")) resolve();
      });
      void holder.then((result) => reject(new Error(`holder exited early: ${result.stderr}`)));
    });
    return { holder };
  };

  it("keeps different keys independent (on Node 18 every key once bound the same all-zero name)", async () => {
    const { holder } = await startHolder("group-12");
    try {
      // Another key is taken at once (the holder script gives up after 5 s)...
      const { holder: other } = await startHolder("group-13");
      other.kill("SIGKILL");
      // ...and the same key still waits.
      const waiter = child("worker.cjs", [lockDir, "group-12", path.join(tmp, `log-${caseNumber}`), "0"]);
      const first = await Promise.race([waiter, sleepMs(500).then(() => "still waiting")]);
      expect(first).toBe("still waiting");
      waiter.kill("SIGKILL");
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("lets exactly one of 24 concurrent processes in at a time", async () => {
    fs.mkdirSync(path.dirname(lockDir), { recursive: true });
    const log = path.join(path.dirname(lockDir), "log");
    const worker = path.join(tmp, "worker.cjs");
    const children = Array.from({ length: 24 }, () =>
      execa(way.node, [...childNodeArgs(way), worker, bundle, lockDir, KEY, log, "20"], {
        reject: false,
        env: way.env,
      }),
    );
    const results = await Promise.all(children);
    for (const result of results) {
      expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
    }

    const lines = fs.readFileSync(log, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(48);
    const seen = new Set<string>();
    for (let i = 0; i < lines.length; i += 2) {
      const enter = /^enter (\d+)$/.exec(lines[i] ?? "");
      const exit = /^exit (\d+)$/.exec(lines[i + 1] ?? "");
      expect(enter, `line ${i + 1}: ${lines[i]}`).not.toBeNull();
      expect(exit, `line ${i + 2}: ${lines[i + 1]}`).not.toBeNull();
      expect(exit?.[1]).toBe(enter?.[1]);
      seen.add(enter?.[1] ?? "");
    }
    expect([...seen].sort()).toEqual(children.map((child) => String(child.pid)).sort());
  });

  it("is released by the kernel when the holder is SIGKILLed", async () => {
    const { holder } = await startHolder(KEY);
    try {
      const busy = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0, method: way.method }));
      expect(busy.message).toContain(`held by pid ${String(holder.pid)}`);

      // Already waiting when the holder dies: the kernel's release must wake it.
      const waiter = acquireLock(lockDir, KEY, { timeoutMs: 10_000, method: way.method });
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

describe("defaultLockMethod", () => {
  it("takes an abstract name from libuv 1.46 on (Node 20.4), flock(1) before and when it cannot tell", () => {
    expect(["1.44.2", "1.45.9", "0.10.3", "", "x"].map((v) => defaultLockMethod(v))).toEqual(Array(5).fill("flock"));
    expect(["1.46.0", "1.51.0", "2.0.0"].map((v) => defaultLockMethod(v))).toEqual(Array(3).fill("abstract-name"));
    expect(defaultLockMethod()).toBe(defaultLockMethod(process.versions.uv));
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

  it("refuses a lock name file that vfio-autobind did not write, and leaks no descriptor", async () => {
    const first = await acquireLock(lockDir, KEY, { timeoutMs: 0 });
    first.release();
    const nameFile = path.join(lockDir, `${KEY}.name`);
    const fdsBefore = openFdCount();
    for (const planted of ["", "squatted\n", `${"a".repeat(32)}\n\n`]) {
      fs.writeFileSync(nameFile, planted);
      const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
      expect(error.message).toBe(`lock name ${nameFile} is not one written by vfio-autobind; remove it`);
    }
    expect(openFdCount()).toBe(fdsBefore);
  });

  it("never follows a symlink planted as the lock name file", async () => {
    fs.mkdirSync(lockDir, { recursive: true });
    const target = path.join(lockDir, "target");
    fs.writeFileSync(target, `${"b".repeat(32)}\n`);
    const nameFile = path.join(lockDir, `${KEY}.name`);
    fs.symlinkSync(target, nameFile);
    const error = await lockError(acquireLock(lockDir, KEY, { timeoutMs: 0 }));
    expect(error.message).toBe(`cannot read lock name ${nameFile}: ELOOP`);
  });
  // Needs root, unshare(1), and a kernel that lets root in the new namespace read init's
  // namespace link (some container sandboxes refuse that; then the check cannot tell, and
  // this test cannot run).
  const canSeeInitFromNewNetns =
    process.getuid?.() === 0 &&
    spawnSync("unshare", ["--net", "readlink", "/proc/1/ns/net"], { stdio: "ignore" }).status === 0;
  it.skipIf(!canSeeInitFromNewNetns)(
    "refuses to lock from another network namespace, where the name would not exclude udev's helpers",
    async () => {
      const once = path.join(tmp, "once.cjs");
      fs.writeFileSync(
        once,
        `require(process.argv[2]).acquireLock(process.argv[3], process.argv[4], { timeoutMs: 0 }).then(
          (lock) => { lock.release(); console.log("locked"); },
          (error) => { console.error(error.message); process.exit(1); });`,
      );
      const result = await execa("unshare", ["--net", process.execPath, once, bundle, lockDir, KEY], {
        reject: false,
        timeout: 20_000,
      });
      expect(result.stderr).toBe(
        `cannot lock ${path.join(lockDir, `${KEY}.lock`)}: this process is in a network namespace other than init's, where the lock would not exclude udev's helpers; run it in the host's`,
      );
      expect(result.exitCode).toBe(1);
    },
  );

  it("rejects a negative or non-finite timeout", async () => {
    await lockError(acquireLock(lockDir, KEY, { timeoutMs: -1 }));
    await lockError(acquireLock(lockDir, KEY, { timeoutMs: Number.NaN }));
  });
});
