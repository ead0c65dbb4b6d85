// The path across hosts, with a real Prometheus: the bridge runs the network drop-in's command (its bind
// address mapped to 127.0.0.2), Prometheus discovers its VMs through /api/sd with deploy/prometheus/mvm-bridges.yml's
// jobs and the token as credentials_file, scrapes each VM through the bridge, and a job with a wrong token is refused.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { compiledOnce, startCompiledAgent } from "../package/binaries.ts";
import { spawnLogged } from "../package/procs.ts";
import { prometheusMissing, startPrometheus, type RunningPrometheus } from "./prometheus-harness.ts";
import { execStart, loadUnit, localArgv, ROOT } from "./units.ts";

const missing = prometheusMissing("a real Prometheus discovering and scraping the bridge through deploy/prometheus/mvm-bridges.yml");

/** Replace `from` in `text`, insisting that it is there (so that the file under test is what runs). */
export function swap(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`deploy/prometheus/mvm-bridges.yml no longer has ${from}`);
  return out;
}

describe.skipIf(missing)("Prometheus on another host, discovering the VMs of the bridge of the network drop-in", () => {
  const d = tempDir("mvm-prom-");
  const running: { stop(): Promise<number> }[] = [];
  let prom: RunningPrometheus;

  beforeAll(async () => {
    const bin = await compiledOnce();
    const { sock, agent } = await startCompiledAgent(d.path);
    running.push(agent);
    writeFileSync(join(d.path, "vms.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${sock}`, labels: { tier: "web" } }] }));

    // The drop-in's command: its private address becomes 127.0.0.2 (loopback, but not 127.0.0.1).
    const argv = execStart(loadUnit("mvm-bridge.service", ["network.conf"]));
    const host = argv[argv.indexOf("--host") + 1]!;
    const bridgeArgv = localArgv(argv, bin.mvmctl, { [host]: "127.0.0.2", "/var/lib/mvm-bridge": d.path, "/etc/mvm": d.path });
    const bridge = spawnLogged(bridgeArgv, { cwd: d.path, env: { PATH: "/usr/bin:/bin" } });
    running.push(bridge);
    const port = (await bridge.match(/mvm bridge on http:\/\/127\.0\.0\.2:(\d+)/, "the bridge on 127.0.0.2"))[1]!;

    // Prometheus's copy of the token, 0400, as the file says; and a wrong one for a second job.
    copyFileSync(join(d.path, "bridge-token"), join(d.path, "mvm-bridge.token"));
    chmodSync(join(d.path, "mvm-bridge.token"), 0o400);
    writeFileSync(join(d.path, "wrong.token"), "not-the-token\n", { mode: 0o400 });

    let config = readFileSync(join(ROOT, "deploy/prometheus/mvm-bridges.yml"), "utf8");
    config = config.replaceAll("credentials_file: /etc/prometheus/mvm-bridge.token", `credentials_file: ${join(d.path, "mvm-bridge.token")}`);
    config = swap(config, "url: http://bridge-a.internal:7070/api/sd", `url: http://127.0.0.2:${port}/api/sd`);
    config = swap(config, "refresh_interval: 1m", "refresh_interval: 1s");
    config = swap(config, '- targets: ["bridge-a.internal:7070"]', `- targets: ["127.0.0.2:${port}"]`);
    config = config.replaceAll("scrape_interval: 15s", "scrape_interval: 1s").replaceAll("scrape_timeout: 10s", "scrape_timeout: 1s");
    config += [
      "  - job_name: wrong-token",
      "    scrape_interval: 1s",
      "    scrape_timeout: 1s",
      `    authorization: { type: Bearer, credentials_file: ${join(d.path, "wrong.token")} }`,
      `    static_configs: [{ targets: ["127.0.0.2:${port}"] }]`,
      "",
    ].join("\n");
    prom = await startPrometheus(d.path, config);
    running.push(prom);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    d.cleanup();
  });

  test("the VM is discovered from /api/sd and scraped through the bridge with its labels; a wrong token is up 0", async () => {
    const up = await prom.until("up", (r) => r.length === 3, "the three targets scraped");
    const byJob = Object.fromEntries(up.map((s) => [s.metric.job, s]));
    expect(byJob.mvm).toMatchObject({ value: "1", metric: { vm: "vm1", tier: "web", host: "127" } });
    expect(byJob["mvm-bridges"]).toMatchObject({ value: "1", metric: { host: "bridge-a" } });
    expect(byJob["wrong-token"]!.value).toBe("0");
    const target = (await prom.targets()).find((t) => t.labels.job === "mvm")!;
    expect(target.scrapeUrl).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/metrics\?vm=vm1$/);
    const agentUp = await prom.until('mvm_agent_up{job="mvm"}', (r) => r.length === 1, "the agent's metrics");
    expect(agentUp[0]).toMatchObject({ value: "1", metric: { vm: "vm1", tier: "web", job: "mvm" } });
    // The bridge's own families come from its own job only; a VM's target does not repeat them.
    expect((await prom.until('mvm_bridge_vms{job="mvm-bridges"}', (r) => r.length === 1, "the bridge's own job"))[0]!.value).toBe("1");
    expect(await prom.query('mvm_bridge_vms{job="mvm"}')).toEqual([]);
  });
});
