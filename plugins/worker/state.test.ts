// The idle/busy state machine: busy at once, idle after idle_after of quiet, reset on wake.

import { expect, test } from "bun:test";
import { BusyState } from "./state.ts";

const at = (s: number, busy: boolean, idleAfterMs = 0) => ({ busy, wall: 1_000_000 + s * 1000, mono: s * 1000, idleAfterMs });

test("without hysteresis the first quiet observation is idle", () => {
  const s = new BusyState(1_000_000);
  expect(s.observe(at(0, false))).toBeNull();
  expect(s.observe(at(5, true))).toEqual({ from: "idle", to: "busy" });
  expect(s.observe(at(10, true))).toBeNull();
  expect(s).toMatchObject({ status: "busy", since: 1_005_000, lastBusyAt: 1_010_000 });
  expect(s.observe(at(15, false))).toEqual({ from: "busy", to: "idle" });
  expect(s).toMatchObject({ status: "idle", since: 1_015_000, lastBusyAt: 1_010_000 });
});

test("with hysteresis, idle only after idle_after of quiet; a busy blip restarts the count", () => {
  const s = new BusyState(0);
  s.observe(at(0, true, 30_000));
  expect(s.observe(at(5, false, 30_000))).toBeNull();
  expect(s.quietForMs(20_000)).toBe(15_000);
  expect(s.observe(at(30, false, 30_000))).toBeNull();
  expect(s.observe(at(31, true, 30_000))).toBeNull();
  expect(s.quietForMs(31_000)).toBeNull();
  expect(s.observe(at(40, false, 30_000))).toBeNull();
  expect(s.observe(at(69, false, 30_000))).toBeNull();
  expect(s.status).toBe("busy");
  expect(s.observe(at(70, false, 30_000))).toEqual({ from: "busy", to: "idle" });
});

test("reset forgets hysteresis and last_busy_at", () => {
  const s = new BusyState(0);
  s.observe(at(0, true, 60_000));
  s.observe(at(5, false, 60_000));
  expect(s.reset({ busy: false, wall: 9_000, mono: 9_000 })).toBe("idle");
  expect(s).toMatchObject({ status: "idle", since: 9_000, lastBusyAt: null });
  expect(s.quietForMs(10_000)).toBeNull();
  expect(s.reset({ busy: true, wall: 10_000, mono: 10_000 })).toBe("busy");
  expect(s.lastBusyAt).toBe(10_000);
});
