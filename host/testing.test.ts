// The host's fakes are honest: every answer and status section they give is one the real plugins can give.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiled, schemaErrors } from "../agent/router.ts";
import { startTestAgent, tempDir, type TestAgent } from "../agent/testing.ts";
import { StatusResult } from "../agent/wire.ts";
import { HealthStatusSection } from "../plugins/health/schemas.ts";
import { SnapshotStatus, StepEvent } from "../plugins/snapshot/schemas.ts";
import { workerPlugin } from "../plugins/worker/index.ts";
import { AgentClient } from "./client/agent-client.ts";
import { fakePlugins, fakeState, troubledState, type FakeState } from "./testing.ts";

const valid = (schema: Parameters<typeof compiled>[0], value: unknown) => {
  const check = compiled(schema);
  return check.Check(value) ? [] : schemaErrors(check, value);
};

/** Every request of the fakes, with params that reach each answer. */
const CALLS: [string, Record<string, unknown>][] = [
  ["health", {}],
  ["health-check", { name: "web" }],
  ["probes", {}],
  ["probe-run", { name: "disk-usage" }],
  ["worker-status", {}],
  ["fs-diff", {}],
  ["fs-diff", { limit: 1, cursor: "1", include: ["/srv/**"] }],
  ["sleep-prep", { drain_timeout_secs: 5 }],
  ["wake", { wall_clock: "2026-11-28T10:00:00Z" }],
  ["wake", {}],
  ["exec", { argv: ["echo", "hi"] }],
  ["exec", { command: "x", stream: true, encoding: "base64" }],
  ["acme.echo", { say: "hi" }],
];

describe.each([
  ["the default state", () => fakeState()],
  ["a troubled VM", () => troubledState()],
  ["a VM that is not ready and whose restore fails", () => fakeState({ sleepReady: false, restoreFails: true, worker: "busy" })],
])("%s", (_name, make) => {
  let agent: TestAgent;
  let client: AgentClient;
  let state: FakeState;
  beforeAll(async () => {
    state = make();
    agent = await startTestAgent({ plugins: fakePlugins(state) });
    client = new AgentClient(`unix:${agent.socket}`);
  });
  afterAll(async () => {
    await client.close();
    await agent.close();
  });

  // The agent's router checks each result against the real plugin's result schema: an answer the
  // real plugin could not give would come back as E_INTERNAL, not as a result.
  test.each(CALLS)("%s %j: answered, within the real result schema", async (type, params) => {
    await expect(client.call(type, params)).resolves.toBeDefined();
  });

  test("streamed sleep-prep and wake: step events the real plugin sends (its declared schema, one running and one ended per step)", async () => {
    for (const type of ["sleep-prep", "wake"] as const) {
      const events: unknown[] = [];
      const r = (await client.call(type, { stream: true }, { onEvent: (e, d) => void events.push({ e, d }) })) as { steps: { name: string; ok: boolean }[] };
      for (const { e, d } of events as { e: string; d: unknown }[]) {
        expect(e).toBe("step");
        expect(valid(StepEvent, d)).toEqual([]);
      }
      expect(events).toHaveLength(r.steps.length * 2);
    }
  });

  test("status and its sections match the real schemas", async () => {
    const st = await client.call("status");
    expect(valid(StatusResult, st)).toEqual([]);
    expect(valid(HealthStatusSection, st.plugins.health)).toEqual([]);
    expect(valid(SnapshotStatus, st.plugins.snapshot)).toEqual([]);
  });
});

test("a fixture the real plugin cannot give is refused: a null detail (as the old bridge fixtures had) or an unknown change kind is E_INTERNAL, never a result", async () => {
  const state = fakeState();
  const agent = await startTestAgent({ plugins: fakePlugins(state) });
  const client = new AgentClient(`unix:${agent.socket}`);
  try {
    state.integrations[0] = { ...state.integrations[0]!, detail: null as unknown as string };
    await expect(client.call("health")).rejects.toMatchObject({ code: "E_INTERNAL" });
    state.changes.unshift({ path: "/x", kind: "renamed" as "created", type: "file", size: 1 });
    await expect(client.call("fs-diff")).rejects.toMatchObject({ code: "E_INTERNAL" });
  } finally {
    await client.close();
    await agent.close();
  }
});

test("the fake worker's status section has the real worker plugin's keys", async () => {
  const d = tempDir();
  writeFileSync(join(d.path, "loadavg"), "0.50 0.40 0.30 1/100 1234\n");
  const real = await startTestAgent({ plugins: [workerPlugin({ overrides: { loadavg_path: join(d.path, "loadavg"), sample_interval_secs: 3600 } })] });
  const fake = await startTestAgent({ plugins: fakePlugins(fakeState()) });
  const [a, b] = [new AgentClient(`unix:${real.socket}`), new AgentClient(`unix:${fake.socket}`)];
  try {
    const keys = async (c: AgentClient) => Object.keys((await c.call("status")).plugins.worker as object).sort();
    expect(await keys(b)).toEqual(await keys(a));
    expect(Object.keys(await b.call("worker-status")).sort()).toEqual(Object.keys(await a.call("worker-status")).sort());
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([real.close(), fake.close()]);
    d.cleanup();
  }
});
