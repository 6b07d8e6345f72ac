/** A process that holds a VFIO node open, as a VMM would: a few lines of Node that open it and sleep. */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";

export interface NodeHolder {
  readonly pid: number | null;
  /** Whether it had the node open within 10 s. */
  readonly opened: boolean;
  stop(): void;
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** Whether `pid` has `node` open, from its fd links. */
export function holds(pid: number, node: string): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === node;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

export function holdNode(node: string | null): NodeHolder {
  const child: ChildProcess | null =
    node === null
      ? null
      : spawn(
          process.execPath,
          ["-e", `require("fs").openSync(${JSON.stringify(node)}, "r+"); setInterval(() => {}, 1000);`],
          { stdio: "ignore" },
        );
  const pid = child?.pid ?? null;
  let opened = false;
  for (let i = 0; i < 100 && pid !== null && node !== null && !opened; i++) {
    opened = holds(pid, node);
    if (!opened) sleep(100);
  }
  return {
    pid,
    opened,
    stop: () => {
      child?.kill("SIGKILL");
      for (let i = 0; i < 50 && pid !== null && fs.existsSync(`/proc/${pid}`); i++) sleep(100);
    },
  };
}
