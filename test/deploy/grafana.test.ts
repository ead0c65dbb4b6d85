// deploy/grafana/mvm-fleet.json uses only metrics that exist: every metric name in every expression (and in the
// variables' queries) is on a real /metrics, served by the bridge over a real agent whose answers make every family.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { FAMILIES } from "../../host/bridge/metrics.ts";
import { serveForTest, type ServedBridge } from "../../host/testing.ts";
import type { SpawnedAgent } from "../support/index.ts";
import { metricNames, metricsAgent } from "./prometheus-harness.ts";
import { ROOT } from "./units.ts";

const DASHBOARD = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/mvm-fleet.json"), "utf8"));

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
function expressions(d: any): string[] {
  const out: string[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (typeof t.expr === "string") out.push(t.expr);
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    if (v.type === "query" && typeof q === "string") out.push(q.replace(/^label_values\(([^,)]+).*$/, "$1"));
  }
  return out;
}

/** Metric names on an exposition page (histogram samples under their _bucket/_sum/_count names). */
function namesOnPage(text: string): Set<string> {
  return new Set(text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.replace(/[{ ].*$/, "")));
}

describe("the Grafana dashboard", () => {
  const d = tempDir("mvm-grafana-");
  let agent: SpawnedAgent;
  let bridge: ServedBridge;
  let page = "";

  beforeAll(async () => {
    agent = await metricsAgent();
    writeFileSync(join(d.path, "vms.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${agent.socket}`, labels: { tier: "web" } }] }));
    // One probe field per probe: the JSON probe's second field is dropped, so mvm_bridge_dropped_series exists too.
    bridge = await serveForTest({ vms: join(d.path, "vms.json"), auth: { token: "t0ken" }, metricsMaxProbeFields: 1 }, { XDG_CONFIG_HOME: d.path });
    const post = (path: string) => fetch(`${bridge.url}api/vms/vm1/${path}`, { method: "POST", headers: { authorization: "Bearer t0ken", "content-type": "application/json" }, body: "{}" });
    expect((await post("sleep-prep")).status).toBe(200);
    expect((await post("wake")).status).toBe(200);
    const get = async () => (page = await (await fetch(`${bridge.url}metrics`, { headers: { authorization: "Bearer t0ken" } })).text());
    await waitFor(async () => (await get()).includes("mvm_probe_field_value") && page.includes("mvm_health_last_check_timestamp_seconds") && page.includes("mvm_probe_value"), 30_000, "the probes and checks to have run");
  }, 120_000);
  afterAll(async () => {
    await bridge?.stop();
    await agent?.stop();
    d.cleanup();
  });

  test("every metric name in every expression is on the real /metrics", () => {
    const have = namesOnPage(page);
    const exprs = expressions(DASHBOARD);
    expect(exprs.length).toBeGreaterThan(25);
    const used = new Set<string>();
    for (const e of exprs)
      for (const name of metricNames(e)) {
        used.add(name);
        expect({ expr: e, name, onRealMetrics: have.has(name) }).toEqual({ expr: e, name, onRealMetrics: true });
      }
    expect(used.size).toBeGreaterThan(25);
  });

  test("and the real /metrics holds every family of the table (so docs/metrics.md lists what exists)", () => {
    const have = namesOnPage(page);
    for (const [name, spec] of Object.entries(FAMILIES)) {
      const sample = spec.type === "histogram" ? `${name}_bucket` : name;
      expect({ name, onRealMetrics: have.has(sample) }).toEqual({ name, onRealMetrics: true });
    }
  });

  test("the dashboard is an importable Grafana dashboard: a datasource input, a uid, panels on the grid", () => {
    expect(DASHBOARD).toMatchObject({ uid: "mvm-fleet", title: "mvm fleet", __inputs: [{ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" }] });
    for (const p of DASHBOARD.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      if (p.type !== "row") expect(p.datasource).toEqual({ type: "prometheus", uid: "${DS_PROMETHEUS}" });
    }
    expect(new Set(DASHBOARD.panels.map((p: any) => p.id)).size).toBe(DASHBOARD.panels.length);
  });
});
