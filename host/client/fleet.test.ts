// The fleet summary: one status call per VM; unreachable, erring and lying agents become rows with a reason, never a throw.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { compiled } from "../../agent/router.ts";
import { startTestAgent, tempDir, type TestAgent } from "../../agent/testing.ts";
import { fakePlugins, lyingAgent, troubledState } from "../testing.ts";
import { AgentClient } from "./agent-client.ts";
import { FleetSummarySchema, fleetSummary } from "./fleet.ts";
import type { VmCall } from "./overview.ts";
import type { VmEntry } from "./vm-list.ts";

const tmp = tempDir("mvm-fleet-");
let good: TestAgent;
let bare: TestAgent;
let oddSections: TestAgent;
const liars: { close(): Promise<void> }[] = [];
const clients = new Map<string, AgentClient>();
const calls: string[] = [];
const call: VmCall = (vm, type, params, opts) => {
  calls.push(`${vm.name} ${type}`);
  let c = clients.get(vm.name);
  if (!c) clients.set(vm.name, (c = new AgentClient(vm.agent)));
  return c.call(type, params, opts);
};
let vms: VmEntry[];

beforeAll(async () => {
  good = await startTestAgent({ plugins: fakePlugins(troubledState()) });
  bare = await startTestAgent();
  // Plugins named health and worker whose status sections are not what those plugins report.
  oddSections = await startTestAgent({ plugins: [{ name: "health", requests: {}, status: () => ({ integrations: "many", ready: "yes" }) }, { name: "worker", requests: {}, status: () => ({ status: "asleep" }) }] });
  const badStatus = await lyingAgent(join(tmp.path, "bad-status.sock"), () => ({ state: 42, plugins: "none" }));
  const refuses = await lyingAgent(join(tmp.path, "refuses.sock"), () => {
    throw { code: "E_BUSY", message: "not now" };
  });
  const hugeText = await lyingAgent(join(tmp.path, "huge.sock"), () => ({ state: "x".repeat(100_000) }));
  liars.push(badStatus, refuses, hugeText);
  vms = [
    { name: "good", agent: `unix:${good.socket}`, labels: { role: "web" } },
    { name: "bare", agent: `unix:${bare.socket}` },
    { name: "odd", agent: `unix:${oddSections.socket}` },
    { name: "lies", agent: badStatus.address },
    { name: "refuses", agent: refuses.address },
    { name: "huge", agent: hugeText.address },
    { name: "down", agent: `unix:${join(tmp.path, "missing.sock")}` },
  ];
});

afterAll(async () => {
  await Promise.all([...clients.values()].map((c) => c.close()));
  await Promise.all(liars.map((l) => l.close()));
  await Promise.all([good.close(), bare.close(), oddSections.close()]);
  tmp.cleanup();
});

describe("fleetSummary", () => {
  test("one row per VM in list order, each from one status call; the document matches its schema", async () => {
    calls.length = 0;
    const s = await fleetSummary(vms, call, 2000);
    expect(calls.sort()).toEqual(vms.map((v) => `${v.name} status`).sort());
    expect(compiled(FleetSummarySchema).Check(s)).toBe(true);
    expect(s.vms.map((v) => v.name)).toEqual(vms.map((v) => v.name));
    expect(s.vms[0]).toEqual({
      name: "good",
      agent: `unix:${good.socket}`,
      labels: { role: "web" },
      reachable: true,
      error: null,
      state: "running",
      version: "0.0.0",
      uptime_secs: expect.any(Number),
      worker: "busy",
      health: { ready: false, integrations: 2, counts: { healthy: 1, starting: 0, error: 1, pending: 0, unchecked: 0, paused: 0 } },
    });
  });

  test("an agent without health or worker plugins, and one whose sections break their schemas: null, not guessed", async () => {
    const [, bareRow, odd] = (await fleetSummary(vms, call, 2000)).vms;
    expect(bareRow).toMatchObject({ reachable: true, error: null, state: "running", worker: null, health: null });
    expect(odd).toMatchObject({ reachable: true, error: null, worker: null, health: null });
  });

  test("a status that breaks its schema is E_PROTOCOL; an error answer is the agent's code; both count as reachable", async () => {
    const rows = (await fleetSummary(vms, call, 2000)).vms;
    const by = (n: string) => rows.find((r) => r.name === n)!;
    expect(by("lies")).toMatchObject({ reachable: true, state: null, version: null, health: null, error: { code: "E_PROTOCOL" } });
    expect(by("lies").error!.message).toContain("does not match its schema");
    expect(by("refuses")).toMatchObject({ reachable: true, state: null, error: { code: "E_BUSY", message: "not now" } });
    expect(by("huge")).toMatchObject({ reachable: true, state: null, error: { code: "E_PROTOCOL" } });
    expect(by("huge").error!.message.length).toBeLessThan(300); // the path that failed, not the guest's text
    expect(by("down")).toMatchObject({ reachable: false, state: null, error: { code: "E_SOCKET_MISSING" } });
  });

  test("an empty list is an empty summary", async () => {
    expect(await fleetSummary([], call, 100)).toEqual({ vms: [] });
  });
});
