// The console logger: one event is one line; control characters are escaped (text) or \u-escaped (JSON).

import { describe, expect, test } from "bun:test";
import { createLogger, escapeControl } from "./log.ts";

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
