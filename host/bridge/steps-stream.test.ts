// The bridge's sleep-prep and wake as server-sent events (?stream=1, Accept: text/event-stream) against a real agent
// with the real snapshot plugin: one `step` event per step start and end, then `result`; plain JSON stays as it was.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { StepEvent } from "../../plugins/snapshot/schemas.ts";
import { loopAgent, readSse, type LoopAgent } from "../testing.ts";
import { createBridge, type Bridge } from "./app.ts";
import { openApiDocument } from "./openapi.ts";
import { clientPool, type ClientPool } from "./pool.ts";

let agent: LoopAgent;
let pool: ClientPool;
let bridge: Bridge;

beforeAll(async () => {
  agent = await loopAgent();
  pool = clientPool();
  bridge = createBridge({ vms: () => [{ name: "app", agent: agent.address }], call: pool.call, token: null, callTimeoutMs: 5000 });
});
afterAll(async () => {
  await pool.close();
  await agent.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  bridge.app.request(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });

describe("sleep-prep and wake as server-sent events", () => {
  test("?stream=1: step events checked against the agent's declaration, then the answer as `result`", async () => {
    const res = await post("/api/vms/app/sleep-prep?stream=1", { drain_timeout_secs: 10 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(res, (e) => e.some((x) => x.event === "result" || x.event === "error"));
    const steps = events.filter((e) => e.event === "step").map((e) => JSON.parse(e.data));
    for (const s of steps) expect(Value.Check(StepEvent, s)).toBe(true);
    expect(steps.map((s) => `${s.name} ${s.status}`)).toEqual([
      "checkpoint:app running",
      "checkpoint:app ok",
      "sync running",
      "sync ok",
      "drop-caches running",
      expect.stringMatching(/^drop-caches (ok|failed)$/),
      "gc running",
      "gc ok",
    ]);
    const result = JSON.parse(events.at(-1)!.data);
    expect(events.at(-1)!.event).toBe("result");
    expect(result.ready).toBe(true);
    expect(result.steps).toHaveLength(4);
  });

  test("wake with Accept: text/event-stream streams its restore; a plain POST answers JSON without events, as before", async () => {
    const res = await post("/api/vms/app/wake", {}, { accept: "text/event-stream" });
    const events = await readSse(res, (e) => e.some((x) => x.event === "result" || x.event === "error"));
    expect(events.filter((e) => e.event === "step").map((e) => JSON.parse(e.data).name)).toEqual(["clock", "clock", "restore:app", "restore:app"]);
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ was_sleeping: true });
    const plain = await post("/api/vms/app/sleep-prep", {});
    expect(plain.headers.get("content-type")).toContain("application/json");
    expect(((await plain.json()) as { state: string }).state).toBe("sleeping");
    const woke = await post("/api/vms/app/wake", { wall_clock: null });
    expect(await woke.json()).toMatchObject({ was_sleeping: true, clock_skew_ms: null });
  });

  test("a streamed call that fails ends with an `error` event; a bad body is still 400 before anything streams", async () => {
    const bad = await post("/api/vms/app/sleep-prep?stream=1", { drain_timeout_secs: -1 });
    expect(bad.status).toBe(400);
    const gone = createBridge({ vms: () => [{ name: "gone", agent: "unix:/nonexistent/agent.sock" }], call: pool.call, token: null, callTimeoutMs: 500 });
    const res = await gone.app.request("/api/vms/gone/wake?stream=1", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    const events = await readSse(res, (e) => e.some((x) => x.event === "error"));
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: "E_SOCKET_MISSING", status: 502 });
  });

  test("the OpenAPI document shows the stream query and the events", () => {
    const doc = openApiDocument({ version: "0.0.0", secured: false }) as any;
    for (const path of ["/api/vms/{name}/sleep-prep", "/api/vms/{name}/wake"]) {
      const op = doc.paths[path].post;
      expect(JSON.stringify(op)).toContain("text/event-stream");
      expect(JSON.stringify(op)).toContain("step");
      expect(op.parameters.map((p: { name: string }) => p.name)).toContain("stream");
    }
  });
});
