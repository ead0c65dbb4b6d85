// sleep-prep's gc step: a real full GC hands freed pages back; unreadable /proc is said, not a failure.

import { expect, test } from "bun:test";
import { anonymousKb, collectGarbage, gcDetail } from "./memory.ts";

test("collectGarbage: 40 MB of garbage leave anonymous memory before it answers", async () => {
  let junk: unknown[] = [];
  for (let i = 0; i < 5000; i++) junk.push(new Array(1000).fill(i).map((v) => ({ v })));
  const held = anonymousKb()!;
  junk = [];
  const o = await collectGarbage();
  expect(o.before_kb).toBeGreaterThanOrEqual(held - 1024);
  expect(o.after_kb!).toBeLessThan(o.before_kb! - 20 * 1024);
  expect(gcDetail(o)).toMatch(/^full GC: anonymous memory \d+\.\d MB -> \d+\.\d MB$/);
});

test("without smaps_rollup: null figures and a detail that says so, ", async () => {
  expect(anonymousKb("/nonexistent/smaps_rollup")).toBeNull();
  const o = await collectGarbage(10_000, () => null);
  expect(o).toEqual({ before_kb: null, after_kb: null });
  expect(gcDetail(o)).toStartWith("full GC (anonymous memory not readable here");
});
