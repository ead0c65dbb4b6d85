// Prometheus text exposition of the bridge: per-VM gauges from agent overviews, and the bridge's own latency histogram.

import { lastSleepPrepMs, type VmOverview } from "../client/overview.ts";

/** Latency buckets in seconds: a local unix-socket call is sub-millisecond, a sleep-prep can take 30 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Escape a label value per the text format (backslash, double quote, newline). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

/** A histogram with label sets (the bridge's request latency). */
export class Histogram {
  private readonly series = new Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = LATENCY_BUCKETS,
  ) {}

  observe(l: Record<string, string>, seconds: number): void {
    const key = JSON.stringify(l);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: l, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]!) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labels({ ...s.labels, le: fmt(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labels({ ...s.labels, le: "+Inf" })} ${s.count}`);
      out.push(`${this.name}_sum${labels(s.labels)} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${labels(s.labels)} ${s.count}`);
    }
    return out.join("\n");
  }
}

/** One metric family: HELP, TYPE and its samples. */
class Family {
  readonly samples: string[] = [];
  constructor(
    readonly name: string,
    readonly type: "gauge" | "counter",
    readonly help: string,
  ) {}
  add(l: Record<string, string>, v: number): void {
    this.samples.push(`${this.name}${labels(l)} ${fmt(v)}`);
  }
  render(): string | null {
    if (!this.samples.length) return null;
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.samples].join("\n");
  }
}

const HEALTH_STATES = ["healthy", "starting", "pending", "unchecked", "error", "paused"];
const LIFECYCLE = ["running", "preparing", "sleeping"];

/** A probe value as a number, if it is one (numbers, numeric strings, booleans). */
export function probeNumber(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v.trim())) return Number(v);
  return null;
}

export interface RenderExtras {
  /** Sleep-prep durations the bridge itself saw (ms), used when the agent's status carries none. */
  sleepPrepMs?: ReadonlyMap<string, number>;
  histogram?: Histogram;
  /** How long collecting took (seconds). */
  scrapeSeconds?: number;
}

/**
 * The whole `/metrics` text for these overviews. Every VM gets `mvm_agent_up`; the rest only when
 * the agent answered. Probe values that are numbers become `mvm_probe_value{vm,probe,unit}`.
 */
export function renderMetrics(overviews: readonly VmOverview[], extras: RenderExtras = {}): string {
  const up = new Family("mvm_agent_up", "gauge", "1 when the VM's agent answered status, else 0");
  const info = new Family("mvm_agent_info", "gauge", "Agent identity (always 1)");
  const uptime = new Family("mvm_agent_uptime_seconds", "gauge", "Seconds since the agent started");
  const life = new Family("mvm_lifecycle_state", "gauge", "1 for the VM's current lifecycle state");
  const ready = new Family("mvm_health_ready", "gauge", "1 when every integration is healthy or unchecked");
  const integ = new Family("mvm_health_integration_state", "gauge", "1 for each integration's current health state");
  const pval = new Family("mvm_probe_value", "gauge", "A probe's last numeric value (unit in the label)");
  const pfield = new Family("mvm_probe_field_value", "gauge", "A numeric top-level field of a probe's JSON object value");
  const pok = new Family("mvm_probe_ok", "gauge", "1 when the probe's last run succeeded");
  const pstale = new Family("mvm_probe_stale", "gauge", "1 when the probe's last result is older than twice its interval");
  const busy = new Family("mvm_worker_busy", "gauge", "1 when the worker is busy, 0 when idle");
  const load = new Family("mvm_worker_load1", "gauge", "1-minute load average the worker plugin sampled");
  const sleep = new Family("mvm_sleep_prep_last_duration_seconds", "gauge", "Duration of the last sleep-prep");
  const inflight = new Family("mvm_agent_work_in_flight", "gauge", "Units of work in flight on the agent");

  for (const o of overviews) {
    const vm = o.vm.name;
    up.add({ vm }, o.status ? 1 : 0);
    const sp = lastSleepPrepMs(o.status) ?? extras.sleepPrepMs?.get(vm) ?? null;
    if (sp !== null) sleep.add({ vm }, sp / 1000);
    if (!o.status) continue;
    info.add({ vm, version: o.status.version, build: o.status.build }, 1);
    uptime.add({ vm }, o.status.uptime_secs);
    inflight.add({ vm }, o.status.work_in_flight);
    for (const s of LIFECYCLE) life.add({ vm, state: s }, o.status.state === s ? 1 : 0);
    if (o.health) {
      ready.add({ vm }, o.health.ready ? 1 : 0);
      for (const i of o.health.integrations) {
        const states = HEALTH_STATES.includes(i.status) ? HEALTH_STATES : [...HEALTH_STATES, i.status];
        for (const s of states) integ.add({ vm, integration: i.name, state: s }, i.status === s ? 1 : 0);
      }
    }
    for (const p of o.probes ?? []) {
      pok.add({ vm, probe: p.name }, p.ok ? 1 : 0);
      pstale.add({ vm, probe: p.name }, p.stale ? 1 : 0);
      const n = probeNumber(p.value);
      if (n !== null && p.ok) pval.add({ vm, probe: p.name, unit: p.unit ?? "" }, n);
      if (p.ok && p.value && typeof p.value === "object" && !Array.isArray(p.value))
        for (const [field, v] of Object.entries(p.value)) {
          const fv = typeof v === "number" || typeof v === "boolean" ? probeNumber(v) : null;
          if (fv !== null) pfield.add({ vm, probe: p.name, field }, fv);
        }
    }
    if (o.worker) {
      busy.add({ vm }, o.worker.status === "busy" ? 1 : 0);
      if (o.worker.load1 !== null) load.add({ vm }, o.worker.load1);
    }
  }
  const parts = [up, info, uptime, life, inflight, ready, integ, pval, pfield, pok, pstale, busy, load, sleep].map((f) => f.render());
  if (extras.scrapeSeconds !== undefined) {
    const f = new Family("mvm_bridge_scrape_duration_seconds", "gauge", "Time the bridge took to ask every agent for this scrape");
    f.add({}, extras.scrapeSeconds);
    parts.push(f.render());
  }
  if (extras.histogram) parts.push(extras.histogram.render());
  return parts.filter((p): p is string => p !== null).join("\n") + "\n";
}
