// Attacks on the config files (issue 15): a guest user's drop-in in a world-writable integrations.d run
// as root by the auto-reload, a symlink out of the config dir, a FIFO as agent.json, a 1 GB drop-in.
// Each is refused with one console line naming the file and the reason, and shows in `status`.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor, type RawClient } from "../../agent/testing.ts";
import { spawnAgent, type SpawnedAgent } from "../support/index.ts";
import { healthFixture, type HealthFixture } from "../../plugins/health/testkit.ts";

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
type Refusal = { file: string; reason: string };

describe.skipIf(!isRoot)("a world-writable integrations.d (auto-reload)", () => {
  let fx: HealthFixture;
  afterEach(async () => fx?.close());

  test("a guest user's drop-in never runs; the refusal is one line and shows in status", async () => {
    fx = await healthFixture({ watch: true, files: { "10-web.json": { name: "web", health_cmd: "true" } } });
    const idir = join(fx.dir, "integrations.d");
    const ran = join(fx.dir, "ran-as");
    const refused = async () => ((await fx.agent.call("status")) as { config_refused: Refusal[] }).config_refused;

    // The attack: the directory is world-writable, a guest user drops a file with a health_cmd.
    chmodSync(idir, 0o777);
    const evil = join(idir, "50-evil.json");
    writeFileSync(evil, JSON.stringify({ name: "evil", health_cmd: `id -un > ${ran}`, health_interval_secs: 1 }));
    chownSync(evil, NOBODY, NOBODY);
    await waitFor(async () => (await refused()).some((r) => r.file === idir), 10_000, "the directory refused after the auto-reload");
    expect((await refused())[0]!.reason).toMatch(/^the directory is writable by group and others \(mode 0777\); .*--insecure-config/);
    expect((await fx.health()).integrations.map((i) => i.name)).toEqual(["web"]); // the last good load stays
    expect(fx.lines().filter((l) => l.includes(idir) && l.includes("refused"))).toHaveLength(1);

    // The directory fixed, the foreign file is refused on its own.
    chmodSync(idir, 0o755);
    writeFileSync(join(idir, "20-touch.json"), JSON.stringify({ name: "touch" })); // a change the watcher sees
    await waitFor(async () => (await refused()).some((r) => r.file === evil), 10_000, "the file refused");
    expect((await refused()).find((r) => r.file === evil)!.reason).toContain(`owned by uid ${NOBODY}, neither root nor the agent's user`);
    expect((await fx.health()).integrations.map((i) => i.name)).toEqual(["web", "touch"]);

    // Root's own file left group/other-writable is refused too.
    chownSync(evil, 0, 0);
    chmodSync(evil, 0o666);
    writeFileSync(join(idir, "20-touch.json"), JSON.stringify({ name: "touch", health_interval_secs: 5 }));
    await waitFor(async () => (await refused()).find((r) => r.file === evil)?.reason.includes("writable by group and others (mode 0666)") === true, 10_000, "mode refusal");
    expect(existsSync(ran)).toBe(false);
    expect(fx.lines().filter((l) => l.includes(`${evil}: skipped: refused:`)).length).toBeGreaterThanOrEqual(2);
  });
});

describe("hostile files at start-up (a real agent process)", () => {
  const d = tempDir("mvm-cfg-attack-");
  const cfg = join(d.path, "etc");
  const idir = join(cfg, "integrations.d");
  const outside = join(d.path, "outside");
  const marker = join(d.path, "outside-ran");
  let proc: SpawnedAgent;
  let c: RawClient;

  beforeAll(async () => {
    mkdirSync(idir, { recursive: true });
    mkdirSync(join(cfg, "shared"));
    mkdirSync(outside);
    Bun.spawnSync(["mkfifo", join(cfg, "agent.json")]); // would hang a plain read for ever
    Bun.spawnSync(["mkfifo", join(idir, "fifo.json")]);
    mkdirSync(join(idir, "dir.json"));
    const big = openSync(join(idir, "big.json"), "w"); // 1 GB (sparse): read whole, it cost 921 MB of RSS
    ftruncateSync(big, 1_000_000_000);
    closeSync(big);
    writeFileSync(join(outside, "x.json"), JSON.stringify({ name: "outside", health_cmd: `touch ${marker}` }));
    symlinkSync(join(outside, "x.json"), join(idir, "out.json"));
    writeFileSync(join(cfg, "shared/in.json"), JSON.stringify({ name: "inside" }));
    symlinkSync("../shared/in.json", join(idir, "in.json"));
    writeFileSync(join(idir, "ok.json"), JSON.stringify({ name: "ok" }));
    proc = await spawnAgent({ configDir: cfg });
    await waitFor(() => proc.console().includes("ready ("), 30_000, "the agent ready");
    c = await proc.connect();
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await proc?.stop();
    d.cleanup();
  });

  test("start-up is not blocked, nothing hostile loads, and each refusal is one line and one status entry", async () => {
    const status = (await c.request({ type: "status", id: 1 })).result as { config_refused: Refusal[] };
    const reasons = Object.fromEntries(status.config_refused.map((r) => [r.file.slice(cfg.length + 1), r.reason]));
    expect(reasons).toEqual({
      "agent.json": "a FIFO, not a regular file",
      "integrations.d/big.json": `1000000000 bytes, over the 1048576-byte cap of a config file`,
      "integrations.d/dir.json": "a directory, not a regular file",
      "integrations.d/fifo.json": "a FIFO, not a regular file",
      "integrations.d/out.json": expect.stringContaining("leads out of the config dir"),
    });
    for (const r of status.config_refused) expect(proc.console().split("\n").filter((l) => l.includes(`${r.file}: `) && l.includes("refused"))).toHaveLength(1);
    const health = (await c.request({ type: "health", id: 2 })).result as { integrations: { name: string }[] };
    expect(health.integrations.map((i) => i.name).sort()).toEqual(["inside", "ok"]);
    expect(existsSync(marker)).toBe(false);
    // The 1 GB file was never read: the agent's peak memory is that of an idle agent.
    const peakMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))![1]) / 1024;
    expect(peakMb).toBeLessThan(256);
  });
});
