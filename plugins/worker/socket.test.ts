// worker-status over a real unix socket, as a host sees it.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, startTestAgent, tempDir, type TestAgent } from "../../agent/testing.ts";
import { workerPlugin } from "./index.ts";

let t: TestAgent;
let c: RawClient;
const files = tempDir("mvm-worker-sock-");

beforeAll(async () => {
  writeFileSync(join(files.path, "loadavg"), "0.50 0.40 0.30 1/100 4242\n");
  t = await startTestAgent({ plugins: [workerPlugin({ overrides: { loadavg_path: join(files.path, "loadavg") } })] });
  c = await RawClient.connect(t.socket);
});

afterAll(async () => {
  c.close();
  await t.close();
  files.cleanup();
});

test("worker-status over the socket", async () => {
  const r = await c.request({ type: "worker-status", id: 6 });
  expect(r).toMatchObject({ id: 6, ok: true, result: { status: "busy", load1: 0.5, load5: 0.4, load15: 0.3, busy_threshold: 0.1 } });
  expect(Object.keys(r.result).sort()).toEqual(["busy_threshold", "last_busy_at", "load1", "load15", "load5", "since", "status"]);
});
