import { expect, it } from "vitest";
import { bootDevices, fixtureVariants, genericVfio } from "./shared/machineLayout.js";
import type { ToolRunsResult } from "./guest/scenarios/toolRuns.js";
import { describeVm, scenarioResult, vmReport } from "./scenarioReport.js";
import { releaseNamed } from "./shared/releases.js";

interface ListRow {
  readonly address: string;
  readonly driver: string | null;
  readonly best: { readonly module: string } | null;
}

interface ExplainJson {
  readonly candidates: ReadonlyArray<{ readonly module: string; readonly wildcards: number }>;
  readonly best: { readonly module: string } | null;
}

describeVm("the bundle in the guest (the release's own Node and systemd, real modules.alias)", () => {
  const result = scenarioResult<ToolRunsResult>("tool-runs");
  const release = releaseNamed(vmReport?.release);

  it("boots a guest with systemd as PID 1 and udevd in its stock sandbox", () => {
    expect(result.pid1).toMatch(/\/systemd$/);
    expect(result.udevdMemoryDenyWriteExecute).toBe("yes");
  });

  it("runs on the release's own Node under --jitless, with the release's systemd", () => {
    expect(result.nodeVersion).toMatch(new RegExp(`^v${release.nodeMajor}\\.`));
    expect(result.systemdVersion).toMatch(new RegExp(`^systemd ${release.systemdMajor} `));
    expect(result.toolVersion.exitCode).toBe(0);
    expect(result.toolVersion.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("is installed the way the host chose: apt-get install of the package in dist/, or the bare bundle", () => {
    if (vmReport?.install.kind === "deb") expect(result.dpkgQuery.stdout).toMatch(/^install ok installed \d/);
    else expect(result.dpkgQuery.exitCode).not.toBe(0);
  });

  it("finds the fixture variants' vfio_pci: aliases that depmod wrote, from updates/", () => {
    expect([...result.fixtureAliasLines].sort()).toEqual(
      [
        `alias vfio_pci:v00001AF4d00001041sv00001AF4sd*bc*sc*i* ${fixtureVariants.subsys.module}`,
        `alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* ${fixtureVariants.generic.module}`,
        `alias vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i* ${fixtureVariants.generic.module}`,
      ].sort(),
    );
    for (const file of result.fixtureModulePaths) expect(file).toMatch(/\/updates\/fixture_vfio_virtio(_subsys)?\.ko$/);
  });

  it("list --json shows each boot device's host driver and best VFIO module", () => {
    expect(result.list.exitCode).toBe(0);
    const rows = result.list.json as ListRow[];
    const row = (address: string): ListRow | undefined => rows.find((r) => r.address === address);
    expect(row(bootDevices.netVariant.address)).toMatchObject({
      driver: "virtio-pci",
      best: { module: fixtureVariants.subsys.module },
    });
    expect(row(bootDevices.blkVariant.address)).toMatchObject({
      driver: "virtio-pci",
      best: { module: fixtureVariants.generic.module },
    });
    expect(row(bootDevices.nvme.address)).toMatchObject({ driver: "nvme", best: { module: genericVfio.module } });
  });

  it("explain --json ranks subsystem variant, then device variant, then vfio_pci", () => {
    const net = result.explain[bootDevices.netVariant.address];
    expect(net?.exitCode).toBe(0);
    const candidates = (net?.json as ExplainJson).candidates.map((c) => [c.module, c.wildcards]);
    expect(candidates).toEqual([
      [fixtureVariants.subsys.module, 4],
      [fixtureVariants.generic.module, 5],
      [genericVfio.module, 7],
    ]);
    const blk = result.explain[bootDevices.blkVariant.address]?.json as ExplainJson;
    expect(blk.candidates.map((c) => c.module)).toEqual([fixtureVariants.generic.module, genericVfio.module]);
    const nvme = result.explain[bootDevices.nvme.address]?.json as ExplainJson;
    expect(nvme.best?.module).toBe(genericVfio.module);
  });
});
