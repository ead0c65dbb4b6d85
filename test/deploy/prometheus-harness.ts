// The one launcher of a real Prometheus for tests (Debian's `prometheus`, on a free loopback port with its own tsdb dir), its HTTP API, and an agent that makes every metric family.

import net from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../../agent/testing.ts";
import { spawnAgent, type SpawnedAgent } from "../support/index.ts";
import { run, spawnLogged } from "../package/procs.ts";

export const prometheus = Bun.which("prometheus");
export const promtool = Bun.which("promtool");

/** Say loudly, once per suite, that `what` was not tested; true when Prometheus or promtool is missing. */
export function prometheusMissing(what: string): boolean {
  if (prometheus && promtool) return false;
  console.warn(`\n!!! SKIPPED: ${what} was NOT tested: prometheus or promtool is not installed.\n!!! Install them with: apt-get install -y --no-install-recommends prometheus\n`);
  return true;
}

/** A TCP port free right now on 127.0.0.1 (Prometheus's listen address must be given as a number). */
export async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One series of an instant query: its labels and value. */
export interface Sample {
  metric: Record<string, string>;
  value: string;
}

export interface RunningPrometheus {
  url: string;
  /** Instant query; [] while Prometheus is still starting. */
  query(q: string): Promise<Sample[]>;
  /** Wait until `q` answers a result that `ok` accepts; returns it. */
  until(q: string, ok: (r: Sample[]) => boolean, what: string, timeoutMs?: number): Promise<Sample[]>;
  /** The active targets (/api/v1/targets), [] while starting. */
  targets(): Promise<{ labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }[]>;
  output(): string;
  stop(): Promise<number>;
}

/**
 * Check `config` with `promtool check config`, then start Prometheus on it in `dir` (its tsdb in
 * `dir/tsdb`, listening on a free loopback port). Stop it with `stop()`.
 * @example const p = await startPrometheus(d.path, yaml); await p.until("up", (r) => r.length > 0, "a scrape");
 */
export async function startPrometheus(dir: string, config: string): Promise<RunningPrometheus> {
  const file = join(dir, "prometheus.yml");
  writeFileSync(file, config);
  const check = await run([promtool!, "check", "config", file]);
  if (check.code !== 0) throw new Error(`promtool check config refused the config:\n${check.stdout}${check.stderr}\n${config}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnLogged([prometheus!, `--config.file=${file}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], {
    cwd: dir,
    env: { PATH: "/usr/bin:/bin" },
  });
  const api = async (path: string): Promise<any> => {
    try {
      return await (await fetch(`${url}${path}`)).json();
    } catch {
      return null; // still starting
    }
  };
  const query = async (q: string): Promise<Sample[]> => {
    const r = await api(`/api/v1/query?query=${encodeURIComponent(q)}`);
    return (r?.data?.result ?? []).map((x: { metric: Record<string, string>; value: [number, string] }) => ({ metric: x.metric, value: x.value[1] }));
  };
  return {
    url,
    query,
    async until(q, ok, what, timeoutMs = 60_000) {
      let last: Sample[] = [];
      try {
        await waitFor(async () => ok((last = await query(q))), timeoutMs, what);
      } catch (e) {
        throw new Error(`${(e as Error).message}; last answer to ${q}: ${JSON.stringify(last)}; prometheus said:\n${proc.output()}`);
      }
      return last;
    },
    async targets() {
      const r = await api("/api/v1/targets?state=active");
      return r?.data?.activeTargets ?? [];
    },
    output: () => proc.output(),
    stop: () => proc.stop(),
  };
}

/**
 * A real agent (from source) whose answers make every per-VM metric family: a healthy and a failing
 * integration, a numeric probe with a unit, a JSON probe with numeric fields, the worker and snapshot
 * plugins (a sleep-prep and a wake through the bridge then fill in the sleep-prep families).
 * @example const a = await metricsAgent(); ...; await a.stop();
 */
export function metricsAgent(): Promise<SpawnedAgent> {
  return spawnAgent({
    files: {
      "integrations.d/web.json": { name: "web", health_cmd: "true", health_interval_secs: 1 },
      "integrations.d/db.json": { name: "db", health_cmd: "echo refused >&2; exit 1", health_interval_secs: 1, failure_threshold: 1 },
      "probes.d/disk.json": { name: "disk", command: "echo 42%", interval_secs: 1, unit: "percent" },
      "probes.d/queue.json": { name: "queue", command: `echo '{"depth": 3, "workers": 2, "name": "q"}'`, interval_secs: 1, output_format: "json" },
    },
  });
}

/**
 * The metric names a PromQL expression reads: identifiers that are not functions, keywords, label
 * names, durations, strings or Grafana variables (`$vm`, `$__rate_interval`).
 * @example metricNames('increase(mvm_sleep_prep_failures_total{vm=~"$vm"}[1h]) > 0') // ["mvm_sleep_prep_failures_total"]
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, "");
  const keywords = new Set(["sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "le"]);
  const labels = new Set<string>();
  for (const m of bare.matchAll(/\{([^}]*)\}/g)) for (const l of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]!);
  for (const m of bare.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(",")) labels.add(l.trim());
  const noLabels = bare.replace(/\{[^}]*\}/g, "");
  const words = noLabels.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  const functions = new Set([...noLabels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*\(/g)].map((m) => m[1]!));
  return [...new Set(words.filter((w) => !keywords.has(w) && !labels.has(w) && !functions.has(w)))];
}
