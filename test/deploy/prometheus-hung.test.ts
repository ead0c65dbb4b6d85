// A real Prometheus scraping a bridge with a healthy VM and a hung one (an agent that accepts and never
// answers), with a scrape_timeout far below the bridge's call deadline: the scrape answers in time, the hung
// VM is mvm_agent_up 0, and the healthy VM's series are all there, per VM (/api/sd) and for the whole host.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { hungAgent, serveForTest, type ServedBridge } from "../../host/testing.ts";
import type { SpawnedAgent } from "../support/index.ts";
import { metricsAgent, prometheusMissing, startPrometheus, type RunningPrometheus } from "./prometheus-harness.ts";

const missing = prometheusMissing("a real Prometheus scraping a bridge with a hung VM");

describe.skipIf(missing)("a hung agent does not fail the scrape", () => {
  const d = tempDir("mvm-prom-hung-");
  let agent: SpawnedAgent;
  let hung: Awaited<ReturnType<typeof hungAgent>>;
  let bridge: ServedBridge;
  let prom: RunningPrometheus;

  beforeAll(async () => {
    agent = await metricsAgent();
    hung = await hungAgent(join(d.path, "hung.sock"));
    writeFileSync(join(d.path, "vms.json"), JSON.stringify({ vms: [{ name: "ok", agent: `unix:${agent.socket}`, labels: { tier: "web" } }, { name: "hung", agent: hung.address }] }));
    writeFileSync(join(d.path, "token"), "s3cret-token\n", { mode: 0o600 });
    // A 30 s call deadline: only the scrape's own timeout header can keep a scrape within 2 s.
    bridge = await serveForTest({ vms: join(d.path, "vms.json"), auth: { tokenFile: join(d.path, "token") }, callTimeoutMs: 30_000 }, { XDG_CONFIG_HOME: d.path });
    writeFileSync(join(d.path, "prom.token"), "s3cret-token\n", { mode: 0o400 });
    const auth = `authorization: { type: Bearer, credentials_file: ${join(d.path, "prom.token")} }`;
    const config = [
      "scrape_configs:",
      "  - job_name: mvm",
      "    scrape_interval: 3s",
      "    scrape_timeout: 2s",
      `    ${auth}`,
      `    http_sd_configs: [{ url: "http://127.0.0.1:${bridge.port}/api/sd", refresh_interval: 1s, ${auth} }]`,
      "  - job_name: whole-host",
      "    scrape_interval: 3s",
      "    scrape_timeout: 2s",
      `    ${auth}`,
      `    static_configs: [{ targets: ["127.0.0.1:${bridge.port}"] }]`,
      "",
    ].join("\n");
    prom = await startPrometheus(d.path, config);
  }, 180_000);
  afterAll(async () => {
    await prom?.stop();
    await bridge?.stop();
    await hung?.close();
    await agent?.stop();
    d.cleanup();
  });

  test("every scrape succeeds; the hung VM is mvm_agent_up 0; the healthy VM's series are there", async () => {
    // Two targets of the mvm job (one per VM, from /api/sd) and the whole host: all scraped, none timed out.
    const up = await prom.until("up", (r) => r.length === 3 && r.every((s) => s.value === "1"), "three targets up (no scrape timed out)");
    expect(up.map((s) => `${s.metric.job}/${s.metric.vm ?? "-"}`).sort()).toEqual(["mvm/hung", "mvm/ok", "whole-host/-"]);
    const agentUp = await prom.until("mvm_agent_up", (r) => r.length === 4, "mvm_agent_up of both VMs in both jobs");
    const value = (job: string, vm: string) => agentUp.find((s) => s.metric.job === job && s.metric.vm === vm)?.value;
    expect([value("mvm", "ok"), value("mvm", "hung"), value("whole-host", "ok"), value("whole-host", "hung")]).toEqual(["1", "0", "1", "0"]);
    // The healthy VM's series, with its vms.json label, from both kinds of scrape.
    for (const job of ["mvm", "whole-host"]) {
      const s = await prom.until(`mvm_health_integration_state{job="${job}",vm="ok",state="healthy"}`, (r) => r.length === 2, `${job}: the integrations' states`);
      expect(Object.fromEntries(s.map((x) => [x.metric.integration, x.value]))).toEqual({ web: "1", db: "0" });
      expect(s[0]!.metric.tier).toBe("web");
      await prom.until(`mvm_probe_value{job="${job}",vm="ok",probe="disk",unit="percent"} == 42`, (r) => r.length === 1, `${job}: the probe's value`);
      await prom.until(`mvm_health_checks_total{job="${job}",vm="ok",integration="web"} > 0`, (r) => r.length === 1, `${job}: the checks counter`);
    }
    // Not only the latest: every scrape so far succeeded (a scrape past its 2 s timeout is up 0).
    const always = await prom.query("min_over_time(up[1m])");
    expect(always.map((s) => s.value)).toEqual(["1", "1", "1"]);
  }, 120_000);
});
