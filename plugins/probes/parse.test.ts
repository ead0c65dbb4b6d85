// Unit cases of output parsing (the real-command cases are in probes.test.ts).

import { describe, expect, test } from "bun:test";
import { parseNumber, parseOutput } from "./parse.ts";

describe("parseNumber", () => {
  test.each([
    ["42", 42],
    ["42%", 42],
    ["42 %", 42],
    ["-1.5", -1.5],
    [".5", 0.5],
    ["1e3", 1000],
    ["12ms", 12],
    ["3.5 GiB", 3.5],
    ["7 req/s", 7],
  ])("%p -> %p", (text, n) => expect(parseNumber(text)).toBe(n));

  test.each(["", "abc", "42 is the answer", "1.2.3", "NaN", "Infinity", "0x10", "12 34"])("%p is not a number", (text) => {
    expect(parseNumber(text)).toBeUndefined();
  });
});

describe("parseOutput", () => {
  test("auto: number, JSON, text, empty", () => {
    expect(parseOutput("auto", "42%")).toEqual({ ok: true, value: 42 });
    expect(parseOutput("auto", '{"queue":3}')).toEqual({ ok: true, value: { queue: 3 } });
    expect(parseOutput("auto", "[1,2]")).toEqual({ ok: true, value: [1, 2] });
    expect(parseOutput("auto", "true")).toEqual({ ok: true, value: true });
    expect(parseOutput("auto", '"quoted"')).toEqual({ ok: true, value: "quoted" });
    expect(parseOutput("auto", "{not json")).toEqual({ ok: true, value: "{not json" });
    expect(parseOutput("auto", "Debian 12")).toEqual({ ok: true, value: "Debian 12" });
    expect(parseOutput("auto", "")).toEqual({ ok: true, value: null });
  });

  test("number and json are forced, with a clear detail on failure", () => {
    expect(parseOutput("number", "3.5 GiB")).toEqual({ ok: true, value: 3.5 });
    const n = parseOutput("number", "about three");
    expect(n).toEqual({ ok: false, detail: 'output is not a number: "about three"' });
    expect(parseOutput("json", "42")).toEqual({ ok: true, value: 42 });
    const j = parseOutput("json", "{bad");
    expect(j.ok).toBe(false);
    if (!j.ok) expect(j.detail).toStartWith("output is not valid JSON (");
    expect(parseOutput("json", "")).toEqual({ ok: false, detail: "output is empty, expected JSON" });
  });

  test("text keeps the text, even when it looks like a number", () => {
    expect(parseOutput("text", "42")).toEqual({ ok: true, value: "42" });
  });
});
