// The bridge's deadlines come from each request's declaration (the registry), never from a list of plugin names.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestAgent, type TestAgent } from "../../agent/testing.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { fakePlugins, fakeState } from "../testing.ts";
import { createBridge } from "./app.ts";
import { clientPool, type ClientPool } from "./pool.ts";

let agent: TestAgent;
let pool: ClientPool;
let vm: VmEntry;
beforeAll(async () => {
  agent = await startTestAgent({ plugins: fakePlugins(fakeState()) });
  vm = { name: "a", agent: `unix:${agent.socket}` };
  pool = clientPool();
});
afterAll(async () => {
  await pool.close();
  await agent.close();
});

describe("deadlines come from each request's declaration", () => {
  test("the generic call route and the named routes wait for what the request declares, plus the ordinary deadline", async () => {
    const seen: [string, number][] = [];
    const recording = createBridge({
      vms: () => [vm],
      call: (vm, type, params, opts) => {
        seen.push([type, opts.timeoutMs]);
        return pool.call(vm, type, params, opts);
      },
      token: null,
      callTimeoutMs: 1500,
    });
    const send = (path: string, body: unknown = {}) =>
      recording.app.request(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    for (const [path, body] of [
      ["/api/vms/a/call/sleep-prep", {}],
      ["/api/vms/a/call/sleep-prep", { drain_timeout_secs: 10 }],
      ["/api/vms/a/call/exec", { argv: ["echo"], timeout_secs: 2 }],
      ["/api/vms/a/call/fs-diff", {}],
      ["/api/vms/a/call/wake", {}],
      ["/api/vms/a/call/ping", {}],
      ["/api/vms/a/call/acme.echo", { say: "x" }],
      ["/api/vms/a/sleep-prep", {}],
      ["/api/vms/a/exec", { argv: ["echo"] }],
      ["/api/vms/a/wake", {}],
    ] as const)
      expect({ path, status: (await send(path, body)).status }).toEqual({ path, status: 200 });
    expect((await recording.app.request("/api/vms/a/diff")).status).toBe(200);
    expect(seen).toEqual([
      ["sleep-prep", 30_000 + 1500],
      ["sleep-prep", 10_000 + 1500],
      ["exec", 2000 + 1500],
      ["fs-diff", 300_000 + 1500],
      ["wake", 60_000 + 1500],
      ["ping", 30_000], // declares no bound: the generic route's 30 s
      ["acme.echo", 30_000], // a custom request the host has no declaration of
      ["sleep-prep", 30_000 + 1500],
      ["exec", 60_000 + 1500],
      ["wake", 60_000 + 1500],
      ["fs-diff", 300_000 + 1500],
    ]);
  });
});
