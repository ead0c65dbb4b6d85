// Scheduler tests on a ManualClock: fixed delay, no overlap, trigger, pause/resume, deadlines, stop.

import { describe, expect, test } from "bun:test";
import { ManualClock } from "./clock.ts";
import { silentLogger } from "./log.ts";
import { Scheduler } from "./scheduler.ts";

/** A task the test finishes by hand. */
function manualTask() {
  const runs: { start: number; finish: () => void; signal: AbortSignal }[] = [];
  let clock: ManualClock;
  return {
    bind(c: ManualClock) {
      clock = c;
    },
    runs,
    task: (signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        runs.push({ start: clock.monotonic(), finish: resolve, signal });
        signal.addEventListener("abort", () => resolve());
      }),
  };
}

describe("Scheduler", () => {
  test("runs at once, then an interval after each run finished", async () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, silentLogger);
    const m = manualTask();
    m.bind(clock);
    s.every(1000, m.task);
    await clock.advance(0);
    expect(m.runs.map((r) => r.start)).toEqual([0]);
    await clock.advance(5000); // still running: no second run
    expect(m.runs.length).toBe(1);
    m.runs[0]!.finish();
    await clock.advance(999);
    expect(m.runs.length).toBe(1);
    await clock.advance(1);
    expect(m.runs.map((r) => r.start)).toEqual([0, 6000]);
  });

  test("runNow: false waits one interval first", async () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, silentLogger);
    let n = 0;
    s.every(500, () => void n++, { runNow: false });
    await clock.advance(499);
    expect(n).toBe(0);
    await clock.advance(1);
    expect(n).toBe(1);
  });

  test("trigger never starts a second run while one is in flight", async () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, silentLogger);
    const m = manualTask();
    m.bind(clock);
    const sched = s.every(1000, m.task);
    await clock.advance(0);
    const p = sched.trigger();
    expect(m.runs.length).toBe(1);
    m.runs[0]!.finish();
    await p;
    const second = sched.trigger();
    expect(m.runs.length).toBe(2);
    m.runs[1]!.finish();
    await second;
  });

  test("pauseAll waits for runs in flight, fires nothing until resumeAll", async () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, silentLogger);
    const m = manualTask();
    m.bind(clock);
    s.every(1000, m.task);
    await clock.advance(0);
    let paused = false;
    const p = s.pauseAll().then(() => (paused = true));
    await clock.advance(0);
    expect(paused).toBe(false);
    m.runs[0]!.finish();
    await p;
    await clock.advance(60_000);
    expect(m.runs.length).toBe(1);
    s.resumeAll({ runNow: true });
    await clock.advance(0);
    expect(m.runs.length).toBe(2);
  });

  test("pauseAll aborts runs still going at its deadline", async () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, silentLogger);
    const m = manualTask();
    m.bind(clock);
    s.every(1000, m.task);
    await clock.advance(0);
    const p = s.pauseAll(2000);
    await clock.advance(2000);
    expect(await p).toEqual({ aborted: 1 });
    expect(m.runs[0]!.signal.aborted).toBe(true);
  });

  test("stop cancels the timer and aborts a run; a failing task is logged and rescheduled", async () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, silentLogger);
    let n = 0;
    const sched = s.every(100, () => {
      n++;
      throw new Error("boom");
    });
    await clock.advance(250);
    expect(n).toBe(3);
    sched.stop();
    sched.stop();
    await clock.advance(1000);
    expect(n).toBe(3);
    expect(s.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  test("rejects a non-positive interval", () => {
    expect(() => new Scheduler(new ManualClock(), silentLogger).every(0, () => {})).toThrow("interval");
  });
});
