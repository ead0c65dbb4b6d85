// 100 sleep/wake cycles (and watchdog resumes) leave no process, timer or fd behind.

import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { waitFor } from "../../agent/testing.ts";
import { harness, integration, type Harness } from "./testkit.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Open fds of this process, after a full GC (handles of earlier tests are closed by finalizers). */
const fds = () => {
  Bun.gc(true);
  return readdirSync("/proc/self/fd").length;
};

/** Processes whose command line carries `token` (anything our commands left running). */
function processesWith(token: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(token)) found.push(Number(e));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

test("100 sleep/wake cycles leave no process, timer or fd behind", async () => {
  const token = `snapcycle-${process.pid}-${Date.now()}`;
  h = await harness({
    integrations: (dir) => [
      integration("db", { checkpoint_cmd: `echo c >> ${dir}/db # ${token}`, restore_cmd: `echo r >> ${dir}/db # ${token}`, critical: true }),
      // Leaves a grandchild behind on purpose: the checkpoint's group is killed when it exits.
      integration("cache", { checkpoint_cmd: `sh -c 'sleep 30; : ${token}' >/dev/null 2>&1 &`, checkpoint_timeout_secs: 5 }),
    ],
    snapshot: { resumeAfterSecs: 60, sys: { sync: async () => "t" } },
  });
  const cycle = async () => {
    expect((await h!.ok("sleep-prep", { drain_timeout_secs: 10 })).ready).toBe(true);
    expect((await h!.ok("wake")).was_sleeping).toBe(true);
    await h!.clock.advance(0);
  };
  await cycle();
  const before = { fds: fds(), schedules: h.agent.scheduler.size, timers: h.clock.pending() };
  for (let i = 0; i < 99; i++) await cycle();
  expect(h.file("db")).toBe("c\nr\n".repeat(100));
  await waitFor(() => processesWith(token).length === 0, 5000, "no process left by the commands");
  const after = { fds: fds(), schedules: h.agent.scheduler.size, timers: h.clock.pending() };
  expect({ ...after, fds: 0 }).toEqual({ ...before, fds: 0 });
  // A leak of even one fd per cycle would be 99 more; earlier tests' handles may close meanwhile.
  expect(after.fds).toBeLessThanOrEqual(before.fds);
  expect(h.agent.state).toBe("running");
}, 60_000);

test("watchdog resumes in a loop leave no timer behind either", async () => {
  h = await harness({ snapshot: { resumeAfterSecs: 1, sys: { sync: async () => "t" } } });
  const before = h.clock.pending();
  for (let i = 0; i < 20; i++) {
    await h.ok("sleep-prep");
    await h.clock.advance(1000);
    await waitFor(() => h!.agent.state === "running", 5000, "the watchdog resume");
  }
  expect(h.clock.pending()).toBe(before);
  expect(h.log.lines.filter((l) => l.includes("WATCHDOG: no wake"))).toHaveLength(20);
});
