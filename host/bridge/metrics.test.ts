// /metrics text: exact samples, label escaping, histogram shape, and `promtool check metrics` when promtool is installed.

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir } from "../../agent/testing.ts";
import { clientPool } from "./pool.ts";
import { createBridge } from "./app.ts";
import type { VmOverview } from "../client/overview.ts";
import { Histogram, probeNumber, renderMetrics } from "./metrics.ts";
import { fakePlugins, fakeState } from "../testing.ts";

const status = (state: "running" | "sleeping") => ({
  agent: "mvm-guest-agent", version: "0.1.0", build: "dev" as const, pid: 1, started_at: "2026-01-01T00:00:00Z", uptime_secs: 12.5, state,
  connections: 1, work_in_flight: 0, plugins: { snapshot: { last_sleep_prep: { at: "x", result: { duration_ms: 250 } } } },
});

function overviews(): VmOverview[] {
  return [
    {
      vm: { name: 'web "1"\\x', agent: "unix:/a" },
      reachable: true,
      error: null,
      status: status("running"),
      health: { ready: false, counts: {}, integrations: [{ name: "db", status: "error", detail: "exit 1" }, { name: "odd", status: "weird", detail: null }] },
      probes: [
        { name: "disk", ok: true, value: "42", unit: "percent", stale: false, detail: null, checked_at: "x" },
        { name: "text", ok: true, value: "hello\nworld", unit: null, stale: true, detail: null, checked_at: "x" },
        { name: "broken", ok: false, value: 7, unit: null, stale: false, detail: "exit 2", checked_at: "x" },
        { name: "stats", ok: true, value: { requests: 12, healthy: true, name: "x", nested: { a: 1 } }, unit: null, stale: false, detail: null, checked_at: "x" },
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
  return renderMetrics(overviews(), { histogram: h, sleepPrepMs: new Map([["down", 1500]]), scrapeSeconds: 0.01 });
}

describe("renderMetrics", () => {
  test("gauges per VM, escaped labels, numeric probes only, one state per integration", () => {
    const text = sample();
    expect(text).toContain('mvm_agent_up{vm="web \\"1\\"\\\\x"} 1');
    expect(text).toContain('mvm_agent_up{vm="down"} 0');
    expect(text).not.toContain('mvm_lifecycle_state{vm="down"');
    expect(text).toContain('mvm_health_integration_state{vm="web \\"1\\"\\\\x",integration="odd",state="weird"} 1');
    expect(text).toContain('mvm_probe_value{vm="web \\"1\\"\\\\x",probe="disk",unit="percent"} 42');
    expect(text).not.toContain('mvm_probe_value{vm="web \\"1\\"\\\\x",probe="text"');
    expect(text).not.toContain('probe="broken",unit');
    expect(text).toContain('mvm_probe_stale{vm="web \\"1\\"\\\\x",probe="text"} 1');
    expect(text).toContain('mvm_probe_field_value{vm="web \\"1\\"\\\\x",probe="stats",field="requests"} 12');
    expect(text).toContain('mvm_probe_field_value{vm="web \\"1\\"\\\\x",probe="stats",field="healthy"} 1');
    expect(text).not.toContain('field="name"');
    expect(text).not.toContain('field="nested"');
    expect(text).toContain('mvm_worker_busy{vm="web \\"1\\"\\\\x"} 0');
    expect(text).toContain('mvm_sleep_prep_last_duration_seconds{vm="web \\"1\\"\\\\x"} 0.25');
    expect(text).toContain('mvm_sleep_prep_last_duration_seconds{vm="down"} 1.5');
    expect(text).toContain('mvm_bridge_request_duration_seconds_bucket{method="GET",route="/api/vms",code="200",le="0.001"} 1');
    expect(text).toContain('mvm_bridge_request_duration_seconds_bucket{method="GET",route="/api/vms",code="200",le="+Inf"} 2');
    expect(text).toContain('mvm_bridge_request_duration_seconds_count{method="GET",route="/api/vms",code="200"} 2');
    expect(text.endsWith("\n")).toBe(true);
  });

  test("probe values: numbers, numeric text and booleans count; other text does not", () => {
    expect([probeNumber(3), probeNumber("4.5"), probeNumber(true), probeNumber("42%"), probeNumber({}), probeNumber(Infinity)]).toEqual([3, 4.5, 1, null, null, null]);
  });
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
