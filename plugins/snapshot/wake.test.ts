// Tests of wake and the watchdog: restores, event and resume order, paused schedules, the clock, no-op wakes.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { rfc3339 } from "../../agent/clock.ts";
import { waitFor } from "../../agent/testing.ts";
import { SnapshotStatus, WakeResult } from "./schemas.ts";
import { harness, integration, type Harness } from "./testkit.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const restoring = (dir: string) => [
  integration("db", { checkpoint_cmd: `echo c >> ${dir}/db`, restore_cmd: `echo r >> ${dir}/db; echo db back`, env: { WHO: "db" } }),
  integration("web", { restore_cmd: `echo $WHO > ${dir}/web`, env: { WHO: "web" } }),
  integration("idle", { health_cmd: "true" }),
];

describe("wake", () => {
  test("no check runs between sleep-prep and wake; wake restores, tells listeners while still paused, then runs every check at once", async () => {
    h = await harness({ integrations: restoring, probe: (dir) => existsSync(join(dir, "web")) });
    await h.clock.advance(2500);
    const before = h.health.ticks;
    expect(before).toBe(3);
    await h.ok("sleep-prep");
    await h.clock.advance(60_000);
    expect(h.health.ticks).toBe(before);
    const w = await h.ok("wake");
    expect(Value.Check(WakeResult, w)).toBe(true);
    expect(w).toMatchObject({ was_sleeping: true, clock_skew_ms: null, clock_set: false });
    expect(w.steps).toMatchObject([
      { name: "restore:db", ok: true, detail: "db back" },
      { name: "restore:web", ok: true, detail: "exit 0" },
    ]);
    expect(h.file("db")).toBe("c\nr\n");
    expect(h.file("web")).toBe("web\n");
    // The wake event came after the restores (probe: the web marker existed), with schedules still paused.
    expect(h.health.seen.at(-1)).toEqual({ event: "wake", reason: "wake", paused: true, state: "sleeping", probe: true });
    expect(h.agent.state).toBe("running");
    expect(h.agent.scheduler.isPaused).toBe(false);
    await h.clock.advance(0);
    await waitFor(() => h!.health.ticks === before + 1, 5000, "the check run at once on wake");
    await h.clock.advance(1000);
    expect(h.health.ticks).toBe(before + 2);
    expect(h.log.lines.filter((l) => l.includes("wake: restore:"))).toHaveLength(2);
  });

  test("wake without a sleep-prep is a no-op: no restore runs, was_sleeping false", async () => {
    h = await harness({ integrations: restoring });
    const w = await h.ok("wake");
    expect(w).toEqual({ was_sleeping: false, clock_skew_ms: null, clock_set: false, clock_not_set: "no_wall_clock", steps: [], duration_ms: 0 });
    expect(h.file("db")).toBe("");
    expect(h.file("web")).toBe("");
    expect(h.health.seen).toEqual([]);
    // And a second wake after a real one is a no-op too.
    await h.ok("sleep-prep");
    expect((await h.ok("wake")).was_sleeping).toBe(true);
    expect((await h.ok("wake")).was_sleeping).toBe(false);
    expect(h.file("db")).toBe("c\nr\n");
  });

  test("a failed restore is reported and the guest still resumes", async () => {
    h = await harness({ integrations: () => [integration("db", { restore_cmd: "echo cannot bind >&2; exit 2", checkpoint_timeout_secs: 5 })] });
    await h.ok("sleep-prep");
    const w = await h.ok("wake");
    expect(w.steps).toEqual([{ name: "restore:db", ok: false, duration_ms: expect.any(Number), detail: "exit 2: cannot bind" }]);
    expect(h.agent.state).toBe("running");
  });

  test("a restore may start a daemon: its group is not killed when the restore exits", async () => {
    h = await harness({ integrations: (dir) => [integration("db", { restore_cmd: `(sleep 30 >/dev/null 2>&1 & echo $! > ${dir}/daemon)` })] });
    await h.ok("sleep-prep");
    await h.ok("wake");
    const pid = Number(h.file("daemon").trim());
    expect(pid).toBeGreaterThan(0);
    try {
      expect(() => process.kill(pid, 0)).not.toThrow();
    } finally {
      process.kill(pid, "SIGKILL");
    }
  });

  test("wall_clock: skew reported and the clock set before the restores", async () => {
    const set: number[] = [];
    h = await harness({ integrations: restoring, snapshot: { setClock: true, sys: { sync: async () => "t", setWallClock: (ms) => (set.push(ms), null) } } });
    await h.ok("sleep-prep");
    const host = h.clock.now() + 5000;
    const w = await h.ok("wake", { wall_clock: rfc3339(host) });
    expect(w).toMatchObject({ was_sleeping: true, clock_skew_ms: 5000, clock_set: true, clock_not_set: null });
    expect(w.steps.map((s: { name: string }) => s.name)).toEqual(["clock", "restore:db", "restore:web"]);
    expect(w.steps[0].detail).toBe(`set to ${rfc3339(host)}; the guest was 5000 ms behind the host`);
    expect(set).toEqual([host]);
  });

  test("wall_clock refused (EPERM): reported, not fatal; --no-set-clock: never tried", async () => {
    h = await harness({ integrations: restoring, snapshot: { setClock: true, sys: { sync: async () => "t", setWallClock: () => "EPERM" } } });
    await h.ok("sleep-prep");
    let w = await h.ok("wake", { wall_clock: rfc3339(h.clock.now() - 250) });
    expect(w).toMatchObject({ was_sleeping: true, clock_skew_ms: -250, clock_set: false, clock_not_set: "failed" });
    expect(w.steps[0]).toMatchObject({ name: "clock", ok: false });
    expect(w.steps[0].detail).toContain("EPERM");
    expect(h.file("db")).toBe("c\nr\n");
    expect(h.agent.state).toBe("running");
    await h.close();
    let called = false;
    h = await harness({ snapshot: { setClock: false, sys: { sync: async () => "t", setWallClock: () => ((called = true), null) } } });
    w = await h.ok("wake", { wall_clock: rfc3339(h.clock.now() + 1000) });
    // Without a sleep-prep nothing is restored, but the skew is still reported.
    expect(w).toMatchObject({ was_sleeping: false, clock_skew_ms: 1000, clock_set: false, clock_not_set: "no_set_clock" });
    expect(called).toBe(false);
  });

  test("a wall_clock that is not RFC 3339 is E_INVALID_PARAMS naming the field", async () => {
    h = await harness();
    for (const bad of ["yesterday", "2026-02-30T00:00:00Z"]) {
      const a = await h.send("wake", { wall_clock: bad });
      expect(a).toMatchObject({ ok: false, error: { code: "E_INVALID_PARAMS" } });
      expect((a as any).error.data[0].path).toBe("/wall_clock");
    }
  });
});

describe("watchdog", () => {
  test("no wake within --resume-after-secs of guest run time: restores, resumes, logs loudly", async () => {
    h = await harness({ integrations: restoring, snapshot: { resumeAfterSecs: 60, sys: { sync: async () => "t" } } });
    await h.ok("sleep-prep");
    const ticks = h.health.ticks;
    await h.clock.advance(59_999);
    expect(h.agent.state).toBe("sleeping");
    expect(h.health.ticks).toBe(ticks);
    await h.clock.advance(1);
    await waitFor(() => h!.agent.state === "running", 5000, "the watchdog to resume");
    expect(h.file("db")).toBe("c\nr\n");
    expect(h.health.seen.at(-1)).toMatchObject({ event: "wake", reason: "watchdog", paused: true });
    expect(h.log.lines.some((l) => l.includes("ERROR") && l.includes("WATCHDOG: no wake came within 60 s"))).toBe(true);
    const st = (await h.ok("status")).plugins.snapshot;
    expect(Value.Check(SnapshotStatus, st)).toBe(true);
    expect(st).toMatchObject({ state: "running", last_wake: { reason: "watchdog", result: { was_sleeping: true } }, watchdog: { armed: false, fires_in_secs: null } });
    await h.clock.advance(0);
    await waitFor(() => h!.health.ticks > ticks, 5000, "checks to run again");
    // The host's late wake is then a no-op.
    expect((await h.ok("wake")).was_sleeping).toBe(false);
    expect(h.file("db")).toBe("c\nr\n");
  });

  test("a repeated sleep-prep restarts the watchdog; a wake disarms it", async () => {
    h = await harness({ snapshot: { resumeAfterSecs: 60, sys: { sync: async () => "t" } } });
    await h.ok("sleep-prep");
    await h.clock.advance(50_000);
    await h.ok("sleep-prep");
    await h.clock.advance(50_000);
    expect(h.agent.state).toBe("sleeping");
    expect((await h.ok("status")).plugins.snapshot.watchdog.fires_in_secs).toBe(10);
    await h.ok("wake");
    const pending = h.clock.pending();
    await h.clock.advance(600_000);
    expect(h.log.lines.some((l) => l.includes("WATCHDOG"))).toBe(false);
    expect(h.clock.pending()).toBe(pending);
  });

  test("--resume-after-secs 0 turns the watchdog off", async () => {
    h = await harness({ snapshot: { resumeAfterSecs: 0, sys: { sync: async () => "t" } } });
    await h.ok("sleep-prep");
    await h.clock.advance(10 * 86_400_000);
    expect(h.agent.state).toBe("sleeping");
    expect((await h.ok("status")).plugins.snapshot.watchdog).toEqual({ resume_after_secs: 0, armed: false, fires_in_secs: null });
  });
});
