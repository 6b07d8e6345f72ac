import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  describeForbidden,
  modulePolicyFrom,
  parseKernelCommandLine,
  parseModprobeConf,
} from "../../src/kmod/modulePolicy.js";
import { readModulePolicy } from "../../src/kmod/readModulePolicy.js";

describe("parseModprobeConf", () => {
  it("finds blacklist and no-op install lines, with file:line, in kmod's spelling", () => {
    const text = [
      "# vfio variants we do not trust",
      "blacklist mlx5-vfio-pci",
      "options vfio_pci ids=10de:2342",
      "install virtio_vfio_pci /bin/false",
      "install qat_vfio_pci /usr/bin/true --quiet",
      "install pds_vfio_pci false",
      "install hisi_acc_vfio_pci /sbin/modprobe --ignore-install hisi_acc_vfio_pci && echo hi",
      "\tblacklist\tnvgrace_gpu_vfio_pci  ",
      "blacklist",
      "blacklist ../evil",
      "alias vfio_pci:v* vfio_pci",
    ].join("\n");
    expect(parseModprobeConf(text, "/etc/modprobe.d/v.conf")).toEqual([
      { module: "mlx5_vfio_pci", rule: "blacklist", where: "/etc/modprobe.d/v.conf:2" },
      { module: "virtio_vfio_pci", rule: "install /bin/false", where: "/etc/modprobe.d/v.conf:4" },
      { module: "qat_vfio_pci", rule: "install /usr/bin/true", where: "/etc/modprobe.d/v.conf:5" },
      { module: "pds_vfio_pci", rule: "install false", where: "/etc/modprobe.d/v.conf:6" },
      { module: "nvgrace_gpu_vfio_pci", rule: "blacklist", where: "/etc/modprobe.d/v.conf:8" },
    ]);
  });

  it("joins a line ending in a backslash with the next, and reports its first line", () => {
    expect(parseModprobeConf("\ninstall mlx5_vfio_pci \\\n  /bin/false\n", "f")).toEqual([
      { module: "mlx5_vfio_pci", rule: "install /bin/false", where: "f:2" },
    ]);
  });

  it("never throws, and keeps only module names", () => {
    const piece = fc.oneof(
      fc.constantFrom("blacklist ", "install ", "/bin/false", "\\", "\n", " ", "\t", "#", "a-b", "x"),
      fc.string({ maxLength: 5 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        for (const rule of parseModprobeConf(pieces.join(""), "f")) expect(rule.module).toMatch(/^[A-Za-z0-9_]+$/);
      }),
      { numRuns: 2000, seed: 13 },
    );
  });
});

describe("parseKernelCommandLine", () => {
  it("reads module_blacklist= and modprobe.blacklist=, up to a lone --", () => {
    const cmdline =
      'BOOT_IMAGE=/vmlinuz root=/dev/sda1 module_blacklist=mlx5-vfio-pci,qat_vfio_pci "modprobe.blacklist=pds_vfio_pci" -- module_blacklist=vfio_pci\n';
    expect(parseKernelCommandLine(cmdline)).toEqual([
      { module: "mlx5_vfio_pci", rule: "module_blacklist=", where: "kernel command line" },
      { module: "qat_vfio_pci", rule: "module_blacklist=", where: "kernel command line" },
      { module: "pds_vfio_pci", rule: "modprobe.blacklist=", where: "kernel command line" },
    ]);
  });
});

describe("modulePolicyFrom", () => {
  it("keeps the first rule for a module", () => {
    const policy = modulePolicyFrom([
      { module: "a", rule: "blacklist", where: "x:1" },
      { module: "a", rule: "install /bin/false", where: "y:1" },
    ]);
    expect(describeForbidden(policy.get("a")!)).toBe("blacklist in x:1");
  });
});

describe("readModulePolicy", () => {
  let root: string;
  let proc: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-modprobe-"));
    proc = fs.mkdtempSync(path.join(os.tmpdir(), "vfio-proc-"));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(proc, { recursive: true, force: true });
  });
  const write = (dir: string, name: string, text: string): string => {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.writeFileSync(path.join(root, dir, name), text);
    return path.join(root, dir, name);
  };

  it("reads every modprobe.d directory, an earlier one hiding a file of the same name, and the command line", () => {
    write("usr/lib/modprobe.d", "vendor.conf", "blacklist mlx5_vfio_pci\n");
    write("etc/modprobe.d", "vendor.conf", "# the admin's copy lifts the vendor's blacklist\n");
    const lib = write("lib/modprobe.d", "50-qat.conf", "install qat_vfio_pci /bin/true\n");
    const run = write("run/modprobe.d", "10-pds.conf", "blacklist pds_vfio_pci\nblacklist nvgrace-gpu-vfio-pci\n");
    write("usr/local/lib/modprobe.d", "README", "blacklist virtio_vfio_pci\n");
    fs.writeFileSync(path.join(proc, "cmdline"), "quiet module_blacklist=pds_vfio_pci\n");
    const { policy, warnings } = readModulePolicy(root, proc);
    expect(warnings).toEqual([]);
    expect(Object.fromEntries(policy)).toEqual({
      // The kernel's refusal is the one reported: no config file can undo it.
      pds_vfio_pci: { module: "pds_vfio_pci", rule: "module_blacklist=", where: "kernel command line" },
      nvgrace_gpu_vfio_pci: { module: "nvgrace_gpu_vfio_pci", rule: "blacklist", where: `${run}:2` },
      qat_vfio_pci: { module: "qat_vfio_pci", rule: "install /bin/true", where: `${lib}:1` },
    });
  });

  it("warns about a FIFO named *.conf instead of waiting on it, and reads the rest", () => {
    write("etc/modprobe.d", "20-ok.conf", "blacklist mlx5_vfio_pci\n");
    const fifo = path.join(root, "etc/modprobe.d/10-fifo.conf");
    execFileSync("mkfifo", [fifo]);
    const writer = spawn("sh", ["-c", `exec 3>"$1"; sleep 1`, "sh", fifo], { stdio: "ignore" });
    try {
      const { policy, warnings } = readModulePolicy(root, proc);
      expect([...policy.keys()]).toEqual(["mlx5_vfio_pci"]);
      expect(warnings).toEqual([`${fifo}: a FIFO, not a regular file; not read; its module blacklist is not known`]);
    } finally {
      writer.kill();
    }
  });

  it("is empty with no modprobe.d and no cmdline", () => {
    expect(readModulePolicy(root, proc)).toEqual({ policy: new Map(), warnings: [] });
  });
});
