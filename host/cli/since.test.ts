// Unit tests of --since and line times: durations, RFC 3339 (offsets, impossible dates), the forms a line's time takes.

import { describe, expect, test } from "bun:test";
import { FlagError } from "../../agent/argv.ts";
import { lineTime, parseSince, rfc3339Ms, stampText, timedLines } from "./since.ts";

const NOW = Date.parse("2026-11-28T10:00:00Z");

describe("parseSince", () => {
  test.each([
    ["10m", 600_000],
    ["1h30m", 5_400_000],
    ["30m1h", 5_400_000],
    ["1.5h", 5_400_000],
    ["500ms", 500],
    ["2d", 172_800_000],
    ["1w", 604_800_000],
    [" 45s ", 45_000],
  ])("%j is %d ms back", (text, back) => {
    expect(parseSince(text, NOW)).toBe(NOW - back);
  });

  test("an RFC 3339 time, with a zone offset or Z", () => {
    expect(parseSince("2026-11-28T09:00:00Z", NOW)).toBe(Date.parse("2026-11-28T09:00:00Z"));
    expect(parseSince("2026-11-28T11:00:00+02:00", NOW)).toBe(Date.parse("2026-11-28T09:00:00Z"));
    expect(parseSince("2026-11-28 09:00:00.123456789Z", NOW)).toBe(Date.parse("2026-11-28T09:00:00.123Z"));
  });

  test("refusals are FlagErrors", () => {
    for (const bad of ["", "10", "m", "10 m", "-10m", "+10m", "10M", "1e3s", "2026-11-28", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "NaN", "Infinity"])
      expect(() => parseSince(bad, NOW)).toThrow(FlagError);
  });
});

describe("line times", () => {
  test("rfc3339Ms checks the calendar, offsets included", () => {
    expect(rfc3339Ms("2028-02-29T00:00:00Z")).toBe(Date.parse("2028-02-29T00:00:00Z"));
    expect(rfc3339Ms("2026-02-29T00:00:00Z")).toBeNull();
    expect(rfc3339Ms("2026-11-28T00:30:00+01:00")).toBe(Date.parse("2026-11-27T23:30:00Z"));
    expect(rfc3339Ms("2026-11-28T10:00:00")).toBeNull();
  });

  test("a leading stamp (bare, bracketed, after a syslog priority) or a JSON line's time; nothing else", () => {
    const t = Date.parse("2026-11-28T10:00:00Z");
    expect(lineTime("2026-11-28T10:00:00.000Z INFO  core up")).toBe(t);
    expect(lineTime("[2026-11-28 10:00:00Z] up")).toBe(t);
    expect(lineTime("<6>2026-11-28T10:00:00Z up")).toBe(t);
    expect(lineTime('{"level":"info","time":"2026-11-28T10:00:00.000Z"}')).toBe(t);
    expect(lineTime("[    1.234] kernel")).toBeNull();
    expect(lineTime("up at 2026-11-28T10:00:00Z")).toBeNull();
    expect(lineTime('msg {"time":"2026-11-28T10:00:00Z"}')).toBeNull();
  });

  test("a line without a time takes its message's; the stamp is UTC or a dash of the same width", () => {
    expect(timedLines(["x", "2026-11-28T10:00:00Z a", "b"]).map((l) => l.at)).toEqual([null, Date.parse("2026-11-28T10:00:00Z"), Date.parse("2026-11-28T10:00:00Z")]);
    expect(stampText(null)).toHaveLength(stampText(0).length);
  });
});
