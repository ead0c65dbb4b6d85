// Against the real health plugin: integrations.d commands checkpointed and restored, checks paused, grace restarted.

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createAgent, type Agent } from "../agent/agent.ts";
import { ManualClock } from "../agent/clock.ts";
import { memoryLogger } from "../agent/log.ts";
import { tempDir, waitFor } from "../agent/testing.ts";
import { healthModule } from "./health/index.ts";
import { snapshotModule } from "./snapshot/index.ts";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

test("the real health plugin: checkpoint and restore from integrations.d, no check while asleep, grace from wake", async () => {
  const d = tempDir("mvm-snapshot-health-");
  const dir = d.path;
  mkdirSync(join(dir, "integrations.d"));
  writeFileSync(
    join(dir, "integrations.d", "db.json"),
    JSON.stringify({
      name: "db",
      health_cmd: `echo x >> ${dir}/checks; exit 1`,
      health_interval_secs: 5,
      startup_grace_secs: 10,
      failure_threshold: 1,
      checkpoint_cmd: `echo checkpoint >> ${dir}/db.log`,
      restore_cmd: `echo restore >> ${dir}/db.log`,
      critical: true,
    }),
  );
  const clock = new ManualClock();
  const config = { configDir: dir, build: "dev" as const, version: "0", maxFrameBytes: 1 << 20, file: {} };
  const flags = { "max-concurrent-checks": 8, "resume-after-secs": 600, "drop-caches-path": join(dir, "drop_caches") };
  const agent: Agent = createAgent({
    plugins: [healthModule.create({ flags, config })!, snapshotModule.create({ flags, config })!],
    clock,
    log: memoryLogger(),
    config,
  });
  await agent.start();
  cleanup = async () => {
    await agent.stop({ drainMs: 0 });
    d.cleanup();
  };
  const checks = () => (existsSync(join(dir, "checks")) ? readFileSync(join(dir, "checks"), "utf8").length / 2 : 0);
  const status = async () => ((await agent.call("health")) as { integrations: { status: string }[] }).integrations[0]!.status;

  await clock.advance(0);
  await waitFor(() => checks() === 1, 10_000, "the first check");
  // Past the grace, the failing check is an error.
  await clock.advance(11_000);
  await waitFor(async () => (await status()) === "error", 10_000, "error after the grace");

  const prep = (await agent.call("sleep-prep", { drain_timeout_secs: 5 })) as { ready: boolean; steps: { name: string }[] };
  expect(prep.ready).toBe(true);
  expect(prep.steps.map((s) => s.name)).toEqual(["checkpoint:db", "sync", "drop-caches", "gc"]);
  expect(await status()).toBe("paused");
  const asleep = checks();
  await clock.advance(120_000);
  expect(checks()).toBe(asleep);

  const wake = (await agent.call("wake")) as { was_sleeping: boolean; steps: { name: string; ok: boolean }[] };
  expect(wake.was_sleeping).toBe(true);
  expect(wake.steps).toMatchObject([{ name: "restore:db", ok: true }]);
  expect(readFileSync(join(dir, "db.log"), "utf8")).toBe("checkpoint\nrestore\n");
  // Results from before the snapshot are gone and the grace starts over: failing again, but `starting`.
  await clock.advance(0);
  await waitFor(() => checks() === asleep + 1, 10_000, "a check at once on wake");
  expect(await status()).toBe("starting");
  await clock.advance(11_000);
  await waitFor(async () => (await status()) === "error", 10_000, "error once the new grace is over");
});
