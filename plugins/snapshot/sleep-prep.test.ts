// Tests of sleep-prep: order of steps, critical vs non-critical, timeouts, the drain deadline, E_BUSY, repeats.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { listen } from "../../agent/server.ts";
import { RawClient, waitFor } from "../../agent/testing.ts";
import { SleepPrepResult, SnapshotStatus } from "./schemas.ts";
import { alive } from "../../test/support/index.ts";
import { harness, integration, pidIn, type Harness } from "./testkit.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("sleep-prep", () => {
  test("runs checkpoints, then sync, then drop caches, and answers ready", async () => {
    h = await harness({
      integrations: (dir) => [
        integration("db", { checkpoint_cmd: `echo checkpoint >> ${dir}/order; echo flushed 3 tables`, critical: true }),
        integration("web", { health_cmd: "true" }),
      ],
      snapshot: (dir) => ({
        sys: {
          async sync() {
            await Bun.write(join(dir, "order"), `${await Bun.file(join(dir, "order")).text()}sync ${existsSync(join(dir, "drop_caches")) ? "after" : "before"} drop-caches\n`);
            return "test sync";
          },
        },
      }),
    });
    const r = await h.ok("sleep-prep", { drain_timeout_secs: 5 });
    expect(Value.Check(SleepPrepResult, r)).toBe(true);
    expect(r.ready).toBe(true);
    expect(r.state).toBe("sleeping");
    expect(r.steps.map((s: { name: string }) => s.name)).toEqual(["checkpoint:db", "sync", "drop-caches", "gc"]);
    // Last, a full GC: the answer says the anonymous memory when sleep-prep began and after it.
    expect(r.steps[3]).toMatchObject({ ok: true, detail: expect.stringMatching(/^full GC: anonymous memory \d+\.\d MB -> \d+\.\d MB$/) });
    expect(r.memory.anonymous_kb_before).toBeGreaterThan(0);
    expect(r.memory.anonymous_kb_after).toBeGreaterThan(0);
    expect(r.steps[0]).toMatchObject({ ok: true, detail: "flushed 3 tables" });
    expect(r.steps[2]).toMatchObject({ ok: true, detail: `wrote 3 to ${join(h.dir, "drop_caches")}` });
    expect(h.file("order")).toBe("checkpoint\nsync before drop-caches\n");
    expect(h.file("drop_caches")).toBe("3");
    expect(h.agent.state).toBe("sleeping");
    // The sleep-prep event comes before the pause, in state preparing.
    expect(h.health.seen).toEqual([{ event: "sleep-prep", paused: false, state: "preparing", probe: undefined }]);
    // One console line per step.
    for (const name of ["checkpoint:db ok", "sync ok", "drop-caches ok", "gc ok"]) expect(h.log.lines.filter((l) => l.includes(`sleep-prep: ${name}`))).toHaveLength(1);
  });

  test("a failed critical checkpoint makes the answer not ready; a non-critical one is reported only", async () => {
    h = await harness({
      integrations: () => [
        integration("db", { checkpoint_cmd: "echo disk full >&2; exit 3", critical: true }),
        integration("cache", { checkpoint_cmd: "exit 1" }),
        integration("queue", { checkpoint_cmd: "true", critical: true }),
      ],
    });
    const r = await h.ok("sleep-prep");
    expect(r.ready).toBe(false);
    expect(r.steps.slice(0, 3)).toMatchObject([
      { name: "checkpoint:db", ok: false, detail: "exit 3: disk full (critical: sleep-prep is not ready)" },
      { name: "checkpoint:cache", ok: false, detail: "exit 1" },
      { name: "checkpoint:queue", ok: true, detail: "exit 0" },
    ]);
    expect(h.agent.state).toBe("sleeping");
    expect(h.log.lines.some((l) => l.includes("ERROR") && l.includes("NOT READY") && l.includes("checkpoint:db"))).toBe(true);
  });

  test("only non-critical failures: ready", async () => {
    h = await harness({ integrations: () => [integration("cache", { checkpoint_cmd: "exit 1" })] });
    expect((await h.ok("sleep-prep")).ready).toBe(true);
  });

  test("a checkpoint past its timeout is killed with its process group", async () => {
    h = await harness({
      integrations: (dir) => [integration("db", { checkpoint_cmd: `sleep 30 & echo $! > ${dir}/pid; wait`, checkpoint_timeout_secs: 2, critical: true })],
    });
    const answer = h.send("sleep-prep");
    await waitFor(() => pidIn(h!, "pid") > 0, 10_000, "the checkpoint's child");
    const child = pidIn(h, "pid");
    expect(alive(child)).toBe(true);
    await h.clock.advance(2000);
    const a = await answer;
    expect(a.ok && (a.result as any).ready).toBe(false);
    expect((a as any).result.steps[0]).toMatchObject({ ok: false, detail: "timed out after 2s (critical: sleep-prep is not ready)" });
    await waitFor(() => !alive(child), 5000, "the killed child to go");
  });

  test("the drain deadline kills in-flight scheduled runs; checkpoints left without time are not run", async () => {
    h = await harness({
      task: (dir) => async (signal, ctx) => void (await ctx.runCommand({ command: `echo $$ > ${dir}/tick; exec sleep 30`, signal })),
      integrations: (dir) => [integration("db", { checkpoint_cmd: `touch ${dir}/checkpointed`, critical: true })],
    });
    await waitFor(() => pidIn(h!, "tick") > 0, 10_000, "the scheduled run");
    const tick = pidIn(h, "tick");
    const answer = h.ok("sleep-prep", { drain_timeout_secs: 3 });
    await h.clock.advance(2999);
    expect(alive(tick)).toBe(true);
    await h.clock.advance(1);
    const r = await answer;
    await waitFor(() => !alive(tick), 5000, "the aborted run's process");
    expect(r.ready).toBe(false);
    expect(r.steps.map((s: { name: string; ok: boolean }) => [s.name, s.ok])).toEqual([
      ["checkpoint:db", false],
      ["sync", true],
      ["drop-caches", true],
      ["gc", true],
    ]);
    expect(r.steps[0].detail).toStartWith("not run: the drain deadline had passed");
    expect(existsSync(join(h.dir, "checkpointed"))).toBe(false);
    expect(h.log.lines.some((l) => l.includes("1 run(s) killed at the drain deadline"))).toBe(true);
  });

  test("a checkpoint longer than the time left is cut at the drain deadline", async () => {
    h = await harness({
      integrations: (dir) => [integration("db", { checkpoint_cmd: `echo $$ > ${dir}/pid; exec sleep 30`, checkpoint_timeout_secs: 60 })],
    });
    const answer = h.ok("sleep-prep", { drain_timeout_secs: 5 });
    await waitFor(() => pidIn(h!, "pid") > 0, 10_000, "the checkpoint");
    await h.clock.advance(5000);
    const r = await answer;
    expect(r.steps[0]).toMatchObject({ ok: false, detail: "timed out after 5s (the drain deadline)" });
    expect(r.ready).toBe(true);
    await waitFor(() => !alive(pidIn(h!, "pid")), 5000, "the checkpoint to be killed");
  });

  test("drop-caches refused: reported, still ready; sync failed: not ready", async () => {
    const denied = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    h = await harness({ snapshot: { sys: { dropCaches: async () => Promise.reject(denied) } } });
    let r = await h.ok("sleep-prep");
    expect(r.ready).toBe(true);
    expect(r.steps[1]).toMatchObject({ name: "drop-caches", ok: false });
    expect(r.steps[1].detail).toStartWith("not permitted (EACCES): dropping the page cache needs root");
    await h.close();
    h = await harness({ snapshot: { sys: { sync: async () => Promise.reject(new Error("EIO")) } } });
    r = await h.ok("sleep-prep");
    expect(r.ready).toBe(false);
    expect(r.steps[0]).toMatchObject({ name: "sync", ok: false, detail: "failed: EIO" });
  });

  test("while sleeping, sleep-prep answers the same result again without re-running anything", async () => {
    h = await harness({ integrations: (dir) => [integration("db", { checkpoint_cmd: `echo x >> ${dir}/count` })] });
    const first = await h.ok("sleep-prep");
    const again = await h.ok("sleep-prep", { drain_timeout_secs: 1 });
    expect(again).toEqual(first);
    expect(h.file("count")).toBe("x\n");
    expect(h.health.seen.filter((s) => s.event === "sleep-prep")).toHaveLength(1);
  });

  test("E_BUSY for a second sleep-prep or a wake while one runs; ping and status still answer (real socket)", async () => {
    h = await harness({
      integrations: (dir) => [integration("db", { checkpoint_cmd: `touch ${dir}/started; exec sleep 30`, checkpoint_timeout_secs: 10 })],
    });
    const socket = join(h.dir, "agent.sock");
    await listen(h.agent, `unix:${socket}`);
    const c = await RawClient.connect(socket);
    try {
      c.send({ type: "sleep-prep", id: 1 });
      await waitFor(() => existsSync(join(h!.dir, "started")), 10_000, "the checkpoint to start");
      expect(await c.request({ type: "sleep-prep", id: 2 })).toMatchObject({ id: 2, ok: false, error: { code: "E_BUSY", message: "a sleep-prep is already in progress" } });
      expect(await c.request({ type: "wake", id: 3 })).toMatchObject({ id: 3, ok: false, error: { code: "E_BUSY", data: { in_progress: "sleep-prep" } } });
      expect(await c.request({ type: "ping", id: 4 })).toMatchObject({ id: 4, ok: true });
      const status = await c.request({ type: "status", id: 5 });
      expect(status.result.state).toBe("preparing");
      expect(status.result.plugins.snapshot).toMatchObject({ state: "preparing", busy: "sleep-prep" });
      await h.clock.advance(10_000);
      const first = await c.next();
      expect(first).toMatchObject({ id: 1, ok: true, result: { ready: true, state: "sleeping" } });
      const st = await c.request({ type: "status", id: 6 });
      expect(Value.Check(SnapshotStatus, st.result.plugins.snapshot)).toBe(true);
      expect(st.result.plugins.snapshot).toMatchObject({ state: "sleeping", busy: null, watchdog: { armed: true, resume_after_secs: 600, fires_in_secs: 600 } });
      expect(st.result.plugins.snapshot.last_sleep_prep.result).toEqual((first as any).result);
    } finally {
      c.close();
    }
  });

  test("status counts sleep-preps run and those not ready; a repeated answer while sleeping is not one", async () => {
    h = await harness({ integrations: () => [integration("db", { checkpoint_cmd: "exit 3", critical: true })] });
    const section = async () => (await h!.agent.call("status")).plugins.snapshot as SnapshotStatus;
    expect(await section()).toMatchObject({ sleep_preps_total: 0, sleep_prep_failures_total: 0 });
    expect((await h.ok("sleep-prep")).ready).toBe(false);
    await h.ok("sleep-prep"); // already sleeping: the same answer again
    expect(await section()).toMatchObject({ sleep_preps_total: 1, sleep_prep_failures_total: 1 });
    await h.ok("wake");
    h.health.list = [];
    expect((await h.ok("sleep-prep")).ready).toBe(true);
    expect(await section()).toMatchObject({ sleep_preps_total: 2, sleep_prep_failures_total: 1 });
  });

  test("integrations that cannot be listed: not ready, and wake still resumes", async () => {
    h = await harness();
    Object.defineProperty(h.health, "list", { get: () => { throw new Error("loader exploded"); } });
    const r = await h.ok("sleep-prep");
    expect(r.ready).toBe(false);
    expect(r.steps[0]).toMatchObject({ name: "checkpoints", ok: false });
    expect(h.log.lines.some((l) => l.includes("listing integrations failed: loader exploded"))).toBe(true);
    expect((await h.ok("wake")).was_sleeping).toBe(true);
    expect(h.agent.state).toBe("running");
  });

  test("params are checked: drain_timeout_secs must be positive", async () => {
    h = await harness();
    const a = await h.send("sleep-prep", { drain_timeout_secs: 0 });
    expect(a).toMatchObject({ ok: false, error: { code: "E_INVALID_PARAMS" } });
    expect(await h.send("sleep-prep", { drain: 1 })).toMatchObject({ ok: false, error: { code: "E_INVALID_PARAMS" } });
    expect(h.agent.state).toBe("running");
  });

  test("stopping the agent mid sleep-prep kills the checkpoints and answers E_UNAVAILABLE", async () => {
    h = await harness({
      integrations: (dir) => [integration("db", { checkpoint_cmd: `echo $$ > ${dir}/pid; exec sleep 30` })],
    });
    const answer = h.send("sleep-prep");
    await waitFor(() => pidIn(h!, "pid") > 0, 10_000, "the checkpoint");
    const pid = pidIn(h, "pid");
    await h.agent.stop({ drainMs: 0 });
    expect(await answer).toMatchObject({ ok: false, error: { code: "E_UNAVAILABLE", message: "the agent is stopping" } });
    await waitFor(() => !alive(pid), 5000, "the checkpoint to be killed");
  });
});

test.skipIf(process.getuid?.() !== 0)("as root: really syncs and writes /proc/sys/vm/drop_caches", async () => {
  h = await harness({ snapshot: { dropCachesPath: "/proc/sys/vm/drop_caches", sys: {} } });
  // With sys given (empty), the real libc sync runs instead of the harness's stand-in.
  const r = await h.ok("sleep-prep");
  expect(r.steps).toMatchObject([
    { name: "sync", ok: true, detail: "libc sync()" },
    { name: "drop-caches", ok: true, detail: "wrote 3 to /proc/sys/vm/drop_caches" },
    { name: "gc", ok: true },
  ]);
});
