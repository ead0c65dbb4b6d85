// Call deadlines and flag limits come from the requests' declarations (plugins/*/schemas.ts), not from copies on the host.

import { describe, expect, test } from "bun:test";
import { DEFAULT_EXEC_TIMEOUT_SECS, MAX_EXEC_TIMEOUT_SECS } from "../../plugins/exec/schemas.ts";
import { DEFAULT_DRAIN_TIMEOUT_SECS, MAX_DRAIN_TIMEOUT_SECS } from "../../plugins/snapshot/schemas.ts";
import { callDeadlineMs, paramLimits } from "./deadlines.ts";

describe("callDeadlineMs", () => {
  test("the deadline param's value, else its schema default, plus the ordinary call deadline", () => {
    expect(callDeadlineMs("sleep-prep", {}, 5000)).toBe(DEFAULT_DRAIN_TIMEOUT_SECS * 1000 + 5000);
    expect(callDeadlineMs("sleep-prep", { drain_timeout_secs: 10 }, 5000)).toBe(15_000);
    expect(callDeadlineMs("exec", { argv: ["true"] }, 1000)).toBe(DEFAULT_EXEC_TIMEOUT_SECS * 1000 + 1000);
    expect(callDeadlineMs("exec", { argv: ["true"], timeout_secs: 2.5 }, 1000)).toBe(3500);
  });

  test("a value over the schema's maximum, or not a positive number, cannot stretch or shrink the wait", () => {
    expect(callDeadlineMs("sleep-prep", { drain_timeout_secs: 1e12 }, 0)).toBe(MAX_DRAIN_TIMEOUT_SECS * 1000);
    expect(callDeadlineMs("exec", { timeout_secs: Infinity }, 0)).toBe(DEFAULT_EXEC_TIMEOUT_SECS * 1000);
    expect(callDeadlineMs("exec", { timeout_secs: -5 }, 0)).toBe(DEFAULT_EXEC_TIMEOUT_SECS * 1000);
    expect(callDeadlineMs("exec", { timeout_secs: "9999" }, 0)).toBe(DEFAULT_EXEC_TIMEOUT_SECS * 1000);
  });

  test("timeoutSecs when no param bounds the work; nothing for requests that declare no bound", () => {
    expect(callDeadlineMs("fs-diff", {}, 5000)).toBe(305_000);
    expect(callDeadlineMs("wake", {}, 5000)).toBe(65_000);
    expect(callDeadlineMs("ping", {}, 5000)).toBeUndefined();
    expect(callDeadlineMs("acme.flush", {}, 5000)).toBeUndefined();
    expect(callDeadlineMs("__proto__", {}, 5000)).toBeUndefined();
  });
});

test("paramLimits: a flag's cap and default are the schema's", () => {
  expect(paramLimits("sleep-prep", "drain_timeout_secs")).toEqual({ maximum: MAX_DRAIN_TIMEOUT_SECS, default: DEFAULT_DRAIN_TIMEOUT_SECS });
  expect(paramLimits("exec", "timeout_secs")).toEqual({ maximum: MAX_EXEC_TIMEOUT_SECS, default: DEFAULT_EXEC_TIMEOUT_SECS });
  expect(paramLimits("exec", "nothing")).toEqual({});
});
