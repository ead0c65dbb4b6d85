// Tests of wake's clock step: RFC 3339 parsing, skew sign, set / refused / turned off.

import { describe, expect, test } from "bun:test";
import { clockPolicy, describeSkew, parseRfc3339, syncWallClock } from "./wallclock.ts";

describe("parseRfc3339", () => {
  test("accepts Z, offsets, fractions and a space or lower-case t", () => {
    expect(parseRfc3339("2026-11-28T10:57:19Z")).toBe(Date.UTC(2026, 10, 28, 10, 57, 19));
    expect(parseRfc3339("2026-11-28T10:57:19.5+01:00")).toBe(Date.UTC(2026, 10, 28, 9, 57, 19, 500));
    expect(parseRfc3339("2026-11-28t10:57:19.123456789-00:30")).toBeCloseTo(Date.UTC(2026, 10, 28, 11, 27, 19, 123) + 0.456789, 4);
    expect(parseRfc3339("2026-11-28 10:57:19z")).toBe(Date.UTC(2026, 10, 28, 10, 57, 19));
  });

  test("rejects impossible dates and missing zones", () => {
    for (const bad of ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T10:57:19", "yesterday", "2026-11-28T10:61:00Z", "2026-11-28T10:00:00+25:00"])
      expect(parseRfc3339(bad)).toBeNull();
  });
});

describe("syncWallClock", () => {
  const base = { guestNow: () => 10_000, monotonic: () => 0 };

  test("positive skew: the guest is behind; the clock is set to the host's time", () => {
    const set: number[] = [];
    const o = syncWallClock(15_000, { ...base, policy: { allowed: true }, setWallClock: (ms) => (set.push(ms), null) });
    expect(o).toMatchObject({ skewMs: 5000, set: true, notSet: null, step: { name: "clock", ok: true } });
    expect(o.step.detail).toBe("set to 1970-01-01T00:00:15.000Z; the guest was 5000 ms behind the host");
    expect(set).toEqual([15_000]);
  });

  test("EPERM is reported in the step, not thrown", () => {
    const o = syncWallClock(9_000, { ...base, policy: { allowed: true }, setWallClock: () => "EPERM" });
    expect(o).toMatchObject({ skewMs: -1000, set: false, notSet: "failed", step: { ok: false } });
    expect(o.step.detail).toContain("not permitted (EPERM)");
    expect(o.step.detail).toContain("1000 ms ahead of the host");
  });

  test("a throwing setter is reported too", () => {
    const o = syncWallClock(10_000, { ...base, policy: { allowed: true }, setWallClock: () => { throw new Error("no ffi"); } });
    expect(o.step).toMatchObject({ ok: false, detail: "clock_settime failed: no ffi; the guest stays in step with the host" });
  });

  test("turned off: skew reported, setter never called", () => {
    let called = false;
    const o = syncWallClock(12_000, { ...base, policy: clockPolicy(false, ["vsock"]), setWallClock: () => ((called = true), null) });
    expect(o).toMatchObject({ skewMs: 2000, set: false, notSet: "no_set_clock", step: { ok: true, detail: "not set (--no-set-clock); the guest is 2000 ms behind the host" } });
    expect(called).toBe(false);
    expect(describeSkew(0)).toBe("in step with the host");
  });
});

describe("clockPolicy", () => {
  test("by default the clock is set only with a vsock or serial listener; the flags force either way", () => {
    expect(clockPolicy(undefined, ["vsock"])).toEqual({ allowed: true });
    expect(clockPolicy(undefined, ["unix", "serial"])).toEqual({ allowed: true });
    for (const t of [["unix"], [], undefined]) expect(clockPolicy(undefined, t)).toMatchObject({ allowed: false, why: { code: "not_in_vm" } });
    expect(clockPolicy(true, ["unix"])).toEqual({ allowed: true });
    expect(clockPolicy(false, ["vsock"])).toMatchObject({ allowed: false, why: { code: "no_set_clock" } });
  });
});
