// The wire side: health and health-check over a real unix socket, the status section, sleep-prep and wake.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../../agent/clock.ts";
import { RawClient, startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import { compiled } from "../../agent/router.ts";
import { healthFixture, type HealthFixture } from "./testkit.ts";
import { fitOutputs } from "./fit.ts";
import { healthPlugin } from "./health.ts";
import { HealthResult, HealthStatusSection, type IntegrationEntry } from "./schemas.ts";

let fx: HealthFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

function runs(file: string): number {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
}

describe("over a unix socket", () => {
  let ta: TestAgent | null = null;
  let conf: ReturnType<typeof tempDir> | null = null;
  afterEach(async () => {
    await ta?.close();
    conf?.cleanup();
    ta = null;
    conf = null;
  });

  test("health, health-check, errors and the status section", async () => {
    conf = tempDir();
    mkdirSync(join(conf.path, "integrations.d"));
    writeFileSync(join(conf.path, "integrations.d", "web.json"), JSON.stringify({ name: "web", health_cmd: "echo fine" }));
    writeFileSync(join(conf.path, "integrations.d", "db.json"), JSON.stringify({ name: "db", health_cmd: "echo down >&2; exit 7", failure_threshold: 1 }));
    const clock = new ManualClock();
    ta = await startTestAgent({ clock, plugins: [healthPlugin({ configDir: conf.path, watch: false })] });
    await clock.advance(0);
    await ta.agent.scheduler.idle();
    const c = await RawClient.connect(ta.socket);
    try {
      const h = await c.request({ type: "health", id: 1 });
      expect(h.ok).toBe(true);
      expect(compiled(HealthResult).Check(h.result)).toBe(true);
      expect(h.result.ready).toBe(false);
      const db = h.result.integrations[0];
      expect(db).toMatchObject({ name: "db", status: "error", detail: "exit 7: down", consecutive_failures: 1 });
      expect(db.last).toMatchObject({ ok: false, exit_code: 7, signal: null, timed_out: false, output: "down" });
      expect(db.since).toBe("2026-01-01T00:00:00.000Z");
      expect(db.last.checked_at).toMatch(/^2026-01-01T00:00:00\.\d{3}Z$/);
      expect(h.result.integrations[1]).toMatchObject({ name: "web", status: "healthy", last: { ok: true, exit_code: 0, output: "fine" } });

      const one = await c.request({ type: "health-check", id: 2, params: { name: "web" } });
      expect(one).toMatchObject({ id: 2, ok: true, result: { name: "web", status: "healthy" } });

      const missing = await c.request({ type: "health-check", id: 3, params: { name: "nope" } });
      expect(missing.error.code).toBe("E_NOT_FOUND");
      expect(missing.error.message).toBe('no integration named "nope" (loaded: db, web)');
      const bad = await c.request({ type: "health-check", id: 4, params: {} });
      expect(bad.error.code).toBe("E_INVALID_PARAMS");
      const extra = await c.request({ type: "health", id: 5, params: { verbose: true } });
      expect(extra.error.code).toBe("E_INVALID_PARAMS");

      const st = await c.request({ type: "status", id: 6 });
      expect(compiled(HealthStatusSection).Check(st.result.plugins.health)).toBe(true);
      expect(st.result.plugins.health).toEqual({ integrations: 2, healthy: 1, starting: 0, error: 1, pending: 0, unchecked: 0, paused: 0, ready: false, skipped_files: 0, checks_total: 3, failures_total: 1 });
    } finally {
      c.close();
    }
  });
});

describe("health-check", () => {
  test("runs the check now; the next timed check counts from its end", async () => {
    fx = await healthFixture();
    const count = join(fx.dir, "runs");
    fx.write("a.json", { name: "a", health_cmd: `echo x >> ${count}`, health_interval_secs: 60 });
    await fx.agent.reload();
    await fx.tick(0);
    expect(runs(count)).toBe(1);
    await fx.tick(30_000);
    const e = (await fx.agent.call("health-check", { name: "a" })) as IntegrationEntry;
    expect(runs(count)).toBe(2);
    expect(e.last?.checked_at).toBe("2026-01-01T00:00:30.000Z");
    await fx.tick(59_999);
    expect(runs(count)).toBe(2);
    await fx.tick(1);
    expect(runs(count)).toBe(3);
  });

  test("never two at once: a request during a check waits for that check", async () => {
    fx = await healthFixture();
    const fifo = join(fx.dir, "gate");
    const count = join(fx.dir, "runs");
    Bun.spawnSync(["mkfifo", fifo]);
    fx.write("a.json", { name: "a", health_cmd: `echo x >> ${count}; cat ${fifo}`, health_timeout_secs: 60 });
    await fx.agent.reload();
    await fx.clock.advance(0);
    await waitFor(() => runs(count) === 1, 10_000, "the first check to start");
    const both = Promise.all([fx.agent.call("health-check", { name: "a" }), fx.agent.call("health-check", { name: "a" })]);
    writeFileSync(fifo, "released\n");
    const [x, y] = (await both) as IntegrationEntry[];
    expect(runs(count)).toBe(1);
    expect(x).toEqual(y);
    expect(x!.last?.output).toBe("released");
  });

  test("an integration without health_cmd answers its entry without running anything", async () => {
    fx = await healthFixture({ files: { "a.json": { name: "a" } } });
    expect(await fx.agent.call("health-check", { name: "a" })).toMatchObject({ name: "a", status: "unchecked", last: null });
  });
});

describe("sleep-prep and wake", () => {
  test("paused between them; wake restarts grace and clears earlier results; the resume runs the checks", async () => {
    fx = await healthFixture({
      files: { "a.json": { name: "a", health_cmd: "true", startup_grace_secs: 30 }, "b.json": { name: "b" } },
    });
    await fx.tick(0);
    expect((await fx.entry("a")).status).toBe("healthy");

    await fx.peer.emit("sleep-prep", { at: fx.clock.now() });
    await fx.peer.schedules.pauseAll();
    let h = await fx.health();
    expect(h.integrations.map((i) => i.status)).toEqual(["paused", "paused"]);
    expect(h.ready).toBe(false);
    await expect(fx.agent.call("health-check", { name: "a" })).rejects.toMatchObject({ code: "E_BUSY" });
    expect((await fx.agent.call("status")).plugins.health).toMatchObject({ paused: 2, ready: false });

    await fx.clock.advance(3_600_000); // an hour asleep: nothing runs
    await fx.peer.emit("wake", { at: fx.clock.now(), reason: "wake" });
    h = await fx.health();
    expect(h.integrations.map((i) => [i.status, i.last])).toEqual([
      ["starting", null],
      ["unchecked", null],
    ]);
    expect(h.integrations[0]!.detail).toBe("in startup grace (30 s left); waiting for the first check");
    fx.peer.schedules.resumeAll({ runNow: true });
    await fx.tick(0);
    expect((await fx.entry("a")).status).toBe("healthy");
    expect(fx.lines()).toContain("paused 2 integration(s) for a snapshot");
  });

  test("a check that ends after sleep-prep is not recorded", async () => {
    fx = await healthFixture();
    const fifo = join(fx.dir, "gate");
    Bun.spawnSync(["mkfifo", fifo]);
    fx.write("a.json", { name: "a", health_cmd: `echo started > ${join(fx.dir, "started")}; cat ${fifo}`, health_timeout_secs: 60 });
    await fx.agent.reload();
    await fx.clock.advance(0);
    await waitFor(() => existsSync(join(fx!.dir, "started")), 10_000, "the check to start");
    await fx.peer.emit("sleep-prep", { at: fx.clock.now() });
    const paused = fx.peer.schedules.pauseAll();
    writeFileSync(fifo, "late\n");
    await paused;
    await fx.peer.emit("wake", { at: fx.clock.now(), reason: "wake" });
    expect(await fx.entry("a")).toMatchObject({ status: "pending", last: null, consecutive_failures: 0 });
  });
});

describe("the integrations service", () => {
  test("lists the loaded specs with defaults applied, in file order", async () => {
    fx = await healthFixture({ files: { "b.json": { name: "b", checkpoint_cmd: "sync", critical: true }, "a.json": { name: "a" } } });
    const list = fx.peer.service("integrations")!.list();
    expect(list.map((s) => s.name)).toEqual(["a", "b"]);
    expect(list[1]).toMatchObject({ checkpoint_cmd: "sync", critical: true, checkpoint_timeout_secs: 30, health_interval_secs: 30 });
  });
});

describe("fitOutputs", () => {
  test("a listing over the frame cap keeps every entry, with the tails of the outputs", () => {
    const out = "x".repeat(4000) + "END";
    const entries: IntegrationEntry[] = Array.from({ length: 300 }, (_, i) => ({
      name: `svc-${i}`,
      status: "error",
      detail: "exit 1",
      since: "2026-01-01T00:00:00.000Z",
      consecutive_failures: 1,
      last: { ok: false, exit_code: 1, signal: null, timed_out: false, duration_ms: 3, output: out, checked_at: "2026-01-01T00:00:00.000Z" },
    }));
    const cap = 1024 * 1024;
    expect(JSON.stringify(entries).length).toBeGreaterThan(cap);
    const fitted = fitOutputs(entries, cap);
    expect(fitted).toHaveLength(300);
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThan(cap - 1024);
    for (const e of fitted) {
      expect(e.last!.output.startsWith("…")).toBe(true);
      expect(e.last!.output.endsWith("END")).toBe(true);
    }
    const small = entries.slice(0, 3);
    expect(fitOutputs(small, cap)).toBe(small);
  });
});
