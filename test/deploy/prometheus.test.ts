// The path across hosts, with a real Prometheus: the bridge runs the network drop-in's command (its bind
// address mapped to 127.0.0.2), Prometheus scrapes it with deploy/prometheus/mvm-bridges.yml's job and the
// token as credentials_file, and a job with a wrong token is refused.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { compiledOnce, startCompiledAgent } from "../package/binaries.ts";
import { run, spawnLogged } from "../package/procs.ts";
import { execStart, loadUnit, localArgv, ROOT } from "./units.ts";

const prometheus = Bun.which("prometheus");
const promtool = Bun.which("promtool");
if (!prometheus || !promtool)
  console.warn(
    "\n!!! SKIPPED: a real Prometheus did NOT scrape the bridge through deploy/prometheus/mvm-bridges.yml: prometheus is not installed.\n" +
      "!!! Install it with: apt-get install -y --no-install-recommends prometheus\n",
  );

/** A TCP port free right now on 127.0.0.1 (Prometheus's listen address must be given as a number). */
async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Replace `from` in `text`, insisting that it is there (so that the file under test is what runs). */
function swap(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`deploy/prometheus/mvm-bridges.yml no longer has ${from}`);
  return out;
}

describe.skipIf(!prometheus || !promtool)("Prometheus on another host, scraping the bridge of the network drop-in", () => {
  const d = tempDir("mvm-prom-");
  const running: ReturnType<typeof spawnLogged>[] = [];
  let promUrl = "";

  beforeAll(async () => {
    const bin = await compiledOnce();
    const { sock, agent } = await startCompiledAgent(d.path);
    running.push(agent);
    writeFileSync(join(d.path, "vms.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${sock}` }] }));

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
    config = swap(config, "credentials_file: /etc/prometheus/mvm-bridge.token", `credentials_file: ${join(d.path, "mvm-bridge.token")}`);
    config = swap(config, '- targets: ["bridge-a.internal:7070"]', `- targets: ["127.0.0.2:${port}"]`);
    config = swap(config, "scrape_interval: 15s", "scrape_interval: 1s");
    config = swap(config, "scrape_timeout: 10s", "scrape_timeout: 1s");
    config += [
      "  - job_name: wrong-token",
      "    scrape_interval: 1s",
      "    scrape_timeout: 1s",
      `    authorization: { type: Bearer, credentials_file: ${join(d.path, "wrong.token")} }`,
      `    static_configs: [{ targets: ["127.0.0.2:${port}"] }]`,
      "",
    ].join("\n");
    const file = join(d.path, "prometheus.yml");
    writeFileSync(file, config);
    const check = await run([promtool!, "check", "config", file]);
    expect(check.code).toBe(0);

    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    running.push(
      spawnLogged([prometheus!, `--config.file=${file}`, `--storage.tsdb.path=${join(d.path, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--log.level=warn"], {
        cwd: d.path,
        env: { PATH: "/usr/bin:/bin" },
      }),
    );
  }, 180_000);
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    d.cleanup();
  });

  /** Instant query: label set -> value. */
  async function query(q: string): Promise<Map<string, string>> {
    try {
      const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return new Map(r.data.result.map((x) => [JSON.stringify(x.metric), x.value[1]]));
    } catch {
      return new Map(); // Prometheus still starting
    }
  }

  test("up is 1 with the bridge's token and 0 with a wrong one; the agent's metrics arrive", async () => {
    let up = new Map<string, string>();
    await waitFor(async () => (up = await query("up")).size === 2, 60_000, "both jobs scraped");
    const byJob = Object.fromEntries([...up].map(([m, v]) => [JSON.parse(m).job, v]));
    expect(byJob).toEqual({ mvm: "1", "wrong-token": "0" });
    const agentUp = await query('mvm_agent_up{job="mvm"}');
    expect([...agentUp.values()]).toEqual(["1"]);
    expect(JSON.parse([...agentUp.keys()][0]!)).toMatchObject({ vm: "vm1", host: "bridge-a" });
  });
});
