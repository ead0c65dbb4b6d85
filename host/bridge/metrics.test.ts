// /metrics text: exact samples, label escaping, caps on guest-made series, per-VM pages, and `promtool check metrics` when promtool is installed.

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir } from "../../agent/testing.ts";
import { clientPool } from "./pool.ts";
import { createBridge } from "./app.ts";
import type { IntegrationView, ProbeView, VmOverview } from "../client/overview.ts";
import { FAMILIES, Histogram, renderMetrics } from "./metrics.ts";
import { probeNumber } from "./metrics-vm.ts";
import { fakePlugins, fakeState, hungAgent, troubledState } from "../testing.ts";

const status = (state: "running" | "sleeping") => ({
  agent: "mvm-guest-agent", version: "0.1.0", build: "dev" as const, pid: 1, started_at: "2026-01-01T00:00:00Z", uptime_secs: 12.5, state,
  connections: 1, work_in_flight: 0,
  plugins: { snapshot: { last_sleep_prep: { at: "x", result: { duration_ms: 250 } }, sleep_preps_total: 4, sleep_prep_failures_total: 1 } },
  requests: { health: { served: 10, failed: 0 }, "(unknown)": { served: 3, failed: 3 } },
  config_skipped: [{ file: "/etc/mvm/probes.d/x.json", message: "field colour: unknown key" }],
});

const integ = (name: string, st: string, over: Partial<IntegrationView> = {}): IntegrationView => ({
  name, status: st, detail: null, since: "2026-01-01T00:00:00Z", checked_at: "2026-01-01T00:00:10Z", checks_total: 5, failures_total: 2, ...over,
});
const probe = (name: string, ok: boolean, value: unknown, over: Partial<ProbeView> = {}): ProbeView => ({
  name, ok, value, unit: null, stale: false, detail: null, checked_at: "2026-01-01T00:00:10Z", runs_total: 3, failures_total: 0, ...over,
});

function overviews(): VmOverview[] {
  return [
    {
      vm: { name: 'web "1"\\x', agent: "unix:/a", labels: { tier: "web", note: 'a "b" \\ c' } },
      reachable: true,
      error: null,
      status: status("running"),
      health: { ready: false, counts: {}, skipped: [], integrations: [integ("db", "error"), integ("odd", "weird")] },
      probes: [
        probe("disk", true, "42", { unit: "percent" }),
        probe("text", true, "hello\nworld", { stale: true }),
        probe("broken", false, 7, { detail: "exit 2" }),
        probe("stats", true, { requests: 12, healthy: true, name: "x", nested: { a: 1 } }),
      ],
      worker: { status: "idle", load1: 0.02 },
    },
    { vm: { name: "down", agent: "unix:/b" }, reachable: false, error: { code: "E_SOCKET_MISSING", message: "no" }, status: null, health: null, probes: null, worker: null },
  ];
}

function sample(): string {
  const h = new Histogram("mvm_bridge_request_duration_seconds", "latency");
  h.observe({ method: "GET", route: "/api/vms", code: "200" }, 0.0007);
  h.observe({ method: "GET", route: "/api/vms", code: "200" }, 3);
  return renderMetrics(overviews(), { histogram: h, sleepPrepMs: new Map([["down", 1500]]), scrapeSeconds: 0.01, vmCount: 2 });
}

const W = 'vm="web \\"1\\"\\\\x",tier="web",note="a \\"b\\" \\\\ c"';

describe("renderMetrics", () => {
  test("gauges and counters per VM with its vms.json labels, escaped; numeric probes only; one state per integration", () => {
    const text = sample();
    expect(text).toContain(`mvm_agent_up{${W}} 1`);
    expect(text).toContain('mvm_agent_up{vm="down"} 0');
    expect(text).not.toContain('mvm_lifecycle_state{vm="down"');
    expect(text).toContain(`mvm_health_integration_state{${W},integration="db",state="error"} 1`);
    expect(text).toContain(`mvm_health_checks_total{${W},integration="db"} 5`);
    expect(text).toContain(`mvm_health_check_failures_total{${W},integration="db"} 2`);
    expect(text).toContain(`mvm_health_last_check_timestamp_seconds{${W},integration="db"} ${Date.parse("2026-01-01T00:00:10Z") / 1000}`);
    expect(text).toContain(`mvm_probe_value{${W},probe="disk",unit="percent"} 42`);
    expect(text).not.toContain('probe="text",unit');
    expect(text).not.toContain('probe="broken",unit');
    expect(text).toContain(`mvm_probe_stale{${W},probe="text"} 1`);
    expect(text).toContain(`mvm_probe_runs_total{${W},probe="disk"} 3`);
    expect(text).toContain(`mvm_probe_field_value{${W},probe="stats",field="requests"} 12`);
    expect(text).toContain(`mvm_probe_field_value{${W},probe="stats",field="healthy"} 1`);
    expect(text).not.toContain('field="name"');
    expect(text).not.toContain('field="nested"');
    expect(text).toContain(`mvm_agent_requests_total{${W},type="health"} 10`);
    expect(text).toContain(`mvm_agent_request_errors_total{${W},type="(unknown)"} 3`);
    expect(text).toContain(`mvm_sleep_preps_total{${W}} 4`);
    expect(text).toContain(`mvm_sleep_prep_failures_total{${W}} 1`);
    expect(text).toContain(`mvm_config_skipped_files{${W}} 1`);
    expect(text).toContain(`mvm_worker_busy{${W}} 0`);
    expect(text).toContain(`mvm_sleep_prep_last_duration_seconds{${W}} 0.25`);
    expect(text).toContain('mvm_sleep_prep_last_duration_seconds{vm="down"} 1.5');
    // A state the bridge does not know is not a new label value: its series are the known states, and it is counted.
    expect(text).not.toContain('state="weird"');
    expect(text).toContain(`mvm_bridge_dropped_series{${W},kind="state"} 1`);
    expect(text).toContain("mvm_bridge_vms 2");
    expect(text).toContain('mvm_bridge_request_duration_seconds_bucket{method="GET",route="/api/vms",code="200",le="0.001"} 1');
    expect(text).toContain('mvm_bridge_request_duration_seconds_count{method="GET",route="/api/vms",code="200"} 2');
    expect(text).toContain("# TYPE mvm_health_checks_total counter");
    expect(text.endsWith("\n")).toBe(true);
  });

  test("every family on the page is in the table, with the table's type", () => {
    const text = sample();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
    expect(types.length).toBeGreaterThan(20);
    for (const [name, type] of types) expect(FAMILIES[name as keyof typeof FAMILIES]?.type).toBe(type as never);
  });

  test("a per-VM page (?vm=) has neither vm nor vms.json labels (the target's), nor the bridge's own families", () => {
    const text = renderMetrics([overviews()[0]!], { perVm: true, scrapeSeconds: 0.01, vmCount: 2, histogram: new Histogram("mvm_bridge_request_duration_seconds", "x") });
    expect(text).toContain("mvm_agent_up 1");
    expect(text).toContain('mvm_health_checks_total{integration="db"} 5');
    expect(text).not.toContain("vm=");
    expect(text).not.toContain("tier=");
    expect(text).not.toContain("mvm_bridge_vms");
    expect(text).not.toContain("mvm_bridge_scrape_duration_seconds");
    expect(text).not.toContain("mvm_bridge_request_duration_seconds");
  });

  test("a hostile guest cannot grow the page: integrations, probes, fields and request types are capped; repeats and long values dropped; all counted", () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    const fields = Object.fromEntries(many(200, (i) => `f${i}`).map((k, i) => [k, i]));
    const o: VmOverview = {
      vm: { name: "evil", agent: "unix:/e" },
      reachable: true,
      error: null,
      status: { ...status("running"), requests: Object.fromEntries(many(500, (i) => `t${i}`).map((k) => [k, { served: 1, failed: 0 }])) },
      health: { ready: true, counts: {}, skipped: [], integrations: [...many(300, (i) => `i${i}`).map((n) => integ(n, "healthy")), integ("i0", "healthy")] },
      probes: [probe("p", true, fields), probe("x".repeat(500), true, 1), probe("p", true, 2)],
      worker: null,
    };
    const text = renderMetrics([o], { limits: { integrations: 100, probeFields: 20, requestTypes: 64 } });
    const count = (family: string) => text.split("\n").filter((l) => l.startsWith(`${family}{`)).length;
    expect(count("mvm_probe_field_value")).toBe(20);
    expect(count("mvm_health_checks_total")).toBe(100);
    expect(count("mvm_agent_requests_total")).toBe(64);
    expect(text).not.toContain("x".repeat(200));
    expect(text).toContain('mvm_bridge_dropped_series{vm="evil",kind="probe_field"} 180');
    expect(text).toContain('mvm_bridge_dropped_series{vm="evil",kind="integration"} 201');
    expect(text).toContain('mvm_bridge_dropped_series{vm="evil",kind="request_type"} 872');
    expect(text).toMatch(/mvm_bridge_dropped_series\{vm="evil",kind="label_value"\} [1-9]/);
    expect(text).toMatch(/mvm_bridge_dropped_series\{vm="evil",kind="duplicate"\} [1-9]/);
    // No two samples of one family share a label set (Prometheus would refuse the whole scrape).
    const samples = text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.slice(0, l.lastIndexOf(" ")));
    expect(new Set(samples).size).toBe(samples.length);
    expect(text.length).toBeLessThan(200 * 1024); // bounded by the caps, whatever the guest sends
  });

  test("probe values: numbers, numeric text and booleans count; other text does not", () => {
    expect([probeNumber(3), probeNumber("4.5"), probeNumber(true), probeNumber("42%"), probeNumber({}), probeNumber(Infinity)]).toEqual([3, 4.5, 1, null, null, null]);
  });
});

describe("the bridge's /metrics", () => {
  test("?vm=NAME scrapes one VM; an unknown name is 404; the counters the agent keeps arrive as _total", async () => {
    const s = troubledState();
    const agent = await startTestAgent({ plugins: fakePlugins(s) });
    const pool = clientPool();
    try {
      let calls = 0;
      const call: typeof pool.call = (...a) => (calls++, pool.call(...a));
      const bridge = createBridge({ vms: () => [{ name: "vm1", agent: `unix:${agent.socket}`, labels: { tier: "web" } }, { name: "off", agent: "unix:/nonexistent/x.sock" }], call, token: null });
      const one = await (await bridge.app.request("/metrics?vm=vm1")).text();
      expect(one).toContain("mvm_agent_up 1");
      expect(one).toContain('mvm_health_check_failures_total{integration="db"} 3');
      expect(one).toContain("mvm_sleep_preps_total 2");
      expect(one).not.toContain("off");
      expect((await bridge.app.request("/metrics?vm=nope")).status).toBe(404);
      expect((await bridge.app.request("/metrics?vm=vm1&x=1")).status).toBe(400);
      expect((await bridge.app.request("/metrics?vm=vm1&bridge=1")).status).toBe(400);
      // The bridge alone: its own families, no agent asked.
      const before = calls;
      const self = await (await bridge.app.request("/metrics?bridge=1")).text();
      expect(self).toContain("mvm_bridge_vms 2");
      expect(self).toContain("mvm_bridge_request_duration_seconds_count");
      expect(self).not.toContain("mvm_agent_up");
      expect(calls).toBe(before);
      const all = await (await bridge.app.request("/metrics")).text();
      expect(all).toContain('mvm_agent_up{vm="vm1",tier="web"} 1');
      expect(all).toContain('mvm_agent_up{vm="off"} 0');
      expect(all).toMatch(/mvm_agent_requests_total\{vm="vm1",tier="web",type="status"\} [1-9]/);
    } finally {
      await pool.close();
      await agent.close();
    }
  });

  test("a hung agent: the scrape answers within X-Prometheus-Scrape-Timeout-Seconds, that VM is mvm_agent_up 0, the others are there", async () => {
    const d = tempDir("mvm-metrics-hung-");
    const s = fakeState();
    const agent = await startTestAgent({ plugins: fakePlugins(s) });
    // Accepts, reads, never answers: a guest whose agent is stuck.
    const hung = await hungAgent(join(d.path, "hung.sock"));
    const pool = clientPool();
    try {
      const vms = [{ name: "ok", agent: `unix:${agent.socket}` }, { name: "hung", agent: hung.address }];
      // The ordinary call deadline is long (30 s): only the scrape's header can keep the scrape short.
      const deadlines: number[] = [];
      const call: typeof pool.call = (vm, type, params, opts) => (deadlines.push(opts.timeoutMs), pool.call(vm, type, params, opts));
      const bridge = createBridge({ vms: () => vms, call, token: null, callTimeoutMs: 30_000 });
      const r = await bridge.app.request("/metrics", { headers: { "X-Prometheus-Scrape-Timeout-Seconds": "2" } });
      const text = await r.text();
      expect(r.status).toBe(200);
      // Every call of the scrape had 2 s minus the margin (250 ms): the scrape ends before Prometheus gives up.
      expect(new Set(deadlines)).toEqual(new Set([1750]));
      expect(text).toContain('mvm_agent_up{vm="hung"} 0');
      expect(text).toContain('mvm_agent_up{vm="ok"} 1');
      expect(text).toContain('mvm_health_integration_state{vm="ok",integration="web",state="healthy"} 1');
    } finally {
      await pool.close();
      await hung.close();
      await agent.close();
      d.cleanup();
    }
  }, 30_000);
});

const promtool = Bun.which("promtool");
if (!promtool) {
  console.warn(
    "\n!!! SKIPPED: `promtool check metrics` was NOT run: promtool is not installed.\n" +
      "!!! Install it with: apt-get install -y --no-install-recommends prometheus\n",
  );
}

function promtoolCheck(text: string): { said: string; exitCode: number } {
  const d = tempDir("mvm-metrics-");
  try {
    const file = join(d.path, "metrics.txt");
    writeFileSync(file, text);
    const r = Bun.spawnSync([promtool!, "check", "metrics"], { stdin: Bun.file(file), stdout: "pipe", stderr: "pipe" });
    return { said: `${r.stdout.toString()}${r.stderr.toString()}`, exitCode: r.exitCode };
  } finally {
    d.cleanup();
  }
}

describe.skipIf(!promtool)("promtool", () => {
  test("promtool check metrics accepts the whole exposition, lint warnings included", () => {
    expect(promtoolCheck(sample())).toEqual({ said: "", exitCode: 0 });
    expect(promtoolCheck(renderMetrics([overviews()[0]!], { perVm: true }))).toEqual({ said: "", exitCode: 0 });
  });

  test("and the bridge's own /metrics after some traffic", async () => {
    const s = fakeState();
    const plugins = fakePlugins(s);
    const agent = await startTestAgent({ plugins });
    const pool = clientPool();
    try {
      const bridge = createBridge({ vms: () => [{ name: "vm1", agent: `unix:${agent.socket}` }, { name: "off", agent: "unix:/nonexistent/x.sock" }], call: pool.call, token: null });
      for (const p of ["/api/vms", "/api/vms/vm1", "/api/vms/nope", "/api/vms/off/health"]) await bridge.app.request(p);
      const text = await (await bridge.app.request("/metrics")).text();
      expect(text).toContain('mvm_agent_up{vm="off"} 0');
      expect(promtoolCheck(text)).toEqual({ said: "", exitCode: 0 });
    } finally {
      await pool.close();
      await agent.close();
    }
  });
});
