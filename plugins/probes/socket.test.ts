// probes and probe-run over a real unix socket, as a host sees them.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, startTestAgent, tempDir, type TestAgent } from "../../agent/testing.ts";
import { probesPlugin } from "./index.ts";

let t: TestAgent;
let c: RawClient;
const files = tempDir("mvm-probes-sock-");

beforeAll(async () => {
  const dir = join(files.path, "probes.d");
  mkdirSync(dir);
  writeFileSync(join(dir, "disk.json"), JSON.stringify({ name: "disk", cmd: "echo 42%", unit: "percent", interval_secs: 3600 }));
  t = await startTestAgent({ plugins: [probesPlugin({ dir })] });
  c = await RawClient.connect(t.socket);
});

afterAll(async () => {
  c.close();
  await t.close();
  files.cleanup();
});

test("probe-run and probes answer the result shape", async () => {
  const run = await c.request({ type: "probe-run", id: 1, params: { name: "disk" } });
  expect(run).toMatchObject({ id: 1, ok: true, result: { name: "disk", ok: true, value: 42, output: "42%", unit: "percent", stale: false } });
  const all = await c.request({ type: "probes", id: 2 });
  expect(all.ok).toBe(true);
  expect(all.result.probes).toHaveLength(1);
  expect(Object.keys(all.result.probes[0]).sort()).toEqual(
    ["checked_at", "detail", "duration_ms", "exit_code", "failures_total", "name", "ok", "output", "runs_total", "stale", "timed_out", "unit", "value"],
  );
});

test("wire errors: unknown probe, bad params", async () => {
  expect(await c.request({ type: "probe-run", id: 3, params: { name: "nope" } })).toMatchObject({ id: 3, ok: false, error: { code: "E_NOT_FOUND" } });
  expect(await c.request({ type: "probe-run", id: 4, params: {} })).toMatchObject({ id: 4, ok: false, error: { code: "E_INVALID_PARAMS" } });
  expect(await c.request({ type: "probes", id: 5, params: { all: true } })).toMatchObject({ id: 5, ok: false, error: { code: "E_INVALID_PARAMS" } });
});
