// The console logger: one event is one line; control characters are escaped (text) or \u-escaped (JSON).

import { describe, expect, test } from "bun:test";
import { skipFields } from "./config.ts";
import { createLogger, escapeControl, failureStreak, stillFailing } from "./log.ts";

/** Every control character a hostile string may carry: C0, DEL, C1 (8-bit CSI), U+2028/2029. */
const ALL_CONTROLS = [...Array.from({ length: 32 }, (_, i) => i), 0x7f, ...Array.from({ length: 32 }, (_, i) => 0x80 + i), 0x2028, 0x2029]
  .map((c) => String.fromCharCode(c))
  .join("");
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

describe("escapeControl", () => {
  test("shows each control character as an escape and leaves other text alone", () => {
    expect(escapeControl("evil\n2026-01-01T00:00:00.000Z ERROR core forged")).toBe("evil\\n2026-01-01T00:00:00.000Z ERROR core forged");
    expect(escapeControl("\r\t\u001b[31mred\u0000\u007f\u009b2J\u2028")).toBe("\\r\\t\\e[31mred\\x00\\x7f\\u009b2J\\u2028");
    expect(escapeControl("plain text, é ü 日本 and a \\ backslash")).toBe("plain text, é ü 日本 and a \\ backslash");
    expect(RAW_CONTROL.test(escapeControl(ALL_CONTROLS))).toBe(false);
  });
});

describe("text lines", () => {
  test("a hostile message, component, field name and field values make exactly one line without a raw control", () => {
    const lines: string[] = [];
    const log = createLogger({ sink: (l) => lines.push(l), now: () => 0 }, `comp${ALL_CONTROLS}`);
    log.warn(`msg${ALL_CONTROLS}`, { [`k\n${ALL_CONTROLS}`]: `v${ALL_CONTROLS}`, esc: "\u001b[2J", obj: { a: "\u009b" } });
    expect(lines).toHaveLength(1);
    expect(RAW_CONTROL.test(lines[0]!)).toBe(false);
    expect(lines[0]).toStartWith("1970-01-01T00:00:00.000Z WARN  comp\\x00");
    expect(lines[0]).toContain(" esc=\\e[2J");
    expect(lines[0]).toContain(' obj={"a":"\\u009b"}');
  });
});

describe("JSON lines", () => {
  test("stay valid JSON with the same values, and carry no raw control character", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "json", sink: (l) => lines.push(l), now: () => 0 }, `c${ALL_CONTROLS}`);
    log.error(`m${ALL_CONTROLS}`, { id: `i${ALL_CONTROLS}` });
    expect(lines).toHaveLength(1);
    expect(RAW_CONTROL.test(lines[0]!)).toBe(false);
    expect(JSON.parse(lines[0]!)).toEqual({ time: "1970-01-01T00:00:00.000Z", level: "error", component: `c${ALL_CONTROLS}`, msg: `m${ALL_CONTROLS}`, id: `i${ALL_CONTROLS}` });
  });
});

describe("fields", () => {
  test("JSON lines carry every field as a key; text lines add only what the sentence does not already say", () => {
    const json: string[] = [];
    const text: string[] = [];
    const now = () => Date.parse("2026-11-28T10:00:00Z");
    const fields = { integration: "web", file: "/etc/mvm/integrations.d/web.json", field: "health_cmd", duration_ms: 12, type: "health" };
    createLogger({ format: "json", sink: (l) => json.push(l), now }, "health").warn("web: check failed (exit 1, 12 ms)", fields);
    createLogger({ format: "text", sink: (l) => text.push(l), now }, "health").warn("web: check failed (exit 1, 12 ms)", fields);
    expect(JSON.parse(json[0]!)).toEqual({ time: "2026-11-28T10:00:00.000Z", level: "warn", component: "health", msg: "web: check failed (exit 1, 12 ms)", ...fields });
    // "web" and "12" are in the sentence; the file, the field and the type are not.
    expect(text[0]).toBe("2026-11-28T10:00:00.000Z WARN  health web: check failed (exit 1, 12 ms) file=/etc/mvm/integrations.d/web.json field=health_cmd type=health");
  });

  test("skipFields names the file and the first field of a reason", () => {
    expect(skipFields("/a.json", "field helth_cmd: unknown key (did you mean health_cmd?); field x: y")).toEqual({ file: "/a.json", field: "helth_cmd" });
    expect(skipFields("/a.json", "not valid JSON: ...")).toEqual({ file: "/a.json" });
  });
});

describe("failureStreak", () => {
  test("first failure told, then at most one repeat per interval, the pass after a told failure reported once", () => {
    let mono = 0;
    const s = failureStreak(60_000, () => mono, () => Date.parse("2026-11-28T10:02:05Z") + mono);
    expect(s.fail()).toBe("first");
    mono = 30_000;
    expect(s.fail()).toBe("quiet");
    mono = 60_000;
    expect(s.fail()).toBe("repeat");
    mono = 61_000;
    expect(s.fail()).toBe("quiet");
    expect(stillFailing(37, s.since(), Date.parse("2026-11-28T11:00:00Z"))).toBe("still failing: 37 times in a row since 10:02:05Z");
    expect(stillFailing(2, s.since(), Date.parse("2026-11-29T11:00:00Z"))).toBe("still failing: 2 times in a row since 2026-11-28T10:02:05Z");
    expect(s.pass()).toBe(true);
    expect(s.pass()).toBe(false);
    expect(s.fail()).toBe("first");
  });
});
