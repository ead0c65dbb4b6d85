// Prometheus text exposition of the bridge: the table of every metric family, label escaping, the latency histogram, and the page.

import type { VmOverview } from "../client/overview.ts";
import { DEFAULT_METRICS_LIMITS, vmSeries, type MetricsLimits } from "./metrics-vm.ts";

/** Latency buckets in seconds: a local unix-socket call is sub-millisecond, a sleep-prep can take 30 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type MetricType = "gauge" | "counter" | "histogram";

/** One metric family as docs/metrics.md lists it: its type, its own labels (besides `vm` and the VM's labels) and meaning. */
export interface FamilySpec {
  type: MetricType;
  /** Labels of its own; per-VM families also carry `vm` and the VM's vms.json labels. */
  labels: readonly string[];
  help: string;
  /** A family of the bridge itself (not per VM): left out of a per-VM scrape (`/metrics?vm=NAME`). */
  bridge?: true;
}

/**
 * Every family the bridge exposes, in page order. docs/metrics.md lists the same (a test compares
 * them), and the Grafana dashboard and the alert rules may use only these names.
 */
export const FAMILIES = {
  mvm_agent_up: { type: "gauge", labels: [], help: "1 when the VM's agent answered status within the scrape's deadline, else 0" },
  mvm_agent_info: { type: "gauge", labels: ["version", "build"], help: "The agent's version and build (always 1)" },
  mvm_agent_uptime_seconds: { type: "gauge", labels: [], help: "Seconds since the agent started" },
  mvm_agent_collect_duration_seconds: { type: "gauge", labels: [], help: "How long the bridge took to ask this VM's agent for this scrape" },
  mvm_lifecycle_state: { type: "gauge", labels: ["state"], help: "1 for the VM's current lifecycle state (running, preparing, sleeping)" },
  mvm_agent_work_in_flight: { type: "gauge", labels: [], help: "Units of work in flight on the agent" },
  mvm_agent_requests_total: { type: "counter", labels: ["type"], help: "Wire requests the agent answered since it started, by request type ((unknown) for types it does not serve)" },
  mvm_agent_request_errors_total: { type: "counter", labels: ["type"], help: "Of those, the ones answered with an error" },
  mvm_config_skipped_files: { type: "gauge", labels: [], help: "Config files (agent.json, integrations.d, probes.d) the agent's latest loads skipped" },
  mvm_health_ready: { type: "gauge", labels: [], help: "1 when every integration is healthy or unchecked and no integrations.d file was skipped" },
  mvm_health_integration_state: { type: "gauge", labels: ["integration", "state"], help: "1 for each integration's current health state" },
  mvm_health_checks_total: { type: "counter", labels: ["integration"], help: "Health checks of the integration that finished since the agent started" },
  mvm_health_check_failures_total: { type: "counter", labels: ["integration"], help: "Of those, the ones that failed" },
  mvm_health_last_check_timestamp_seconds: { type: "gauge", labels: ["integration"], help: "When the integration's last check finished (guest clock, Unix seconds)" },
  mvm_probe_ok: { type: "gauge", labels: ["probe"], help: "1 when the probe's last run succeeded" },
  mvm_probe_stale: { type: "gauge", labels: ["probe"], help: "1 when the probe's last result is older than twice its interval, or from before the last wake" },
  mvm_probe_value: { type: "gauge", labels: ["probe", "unit"], help: "A probe's last value when it is a number (unit in the label)" },
  mvm_probe_field_value: { type: "gauge", labels: ["probe", "field"], help: "A numeric top-level field of a probe's JSON object value (capped per probe)" },
  mvm_probe_runs_total: { type: "counter", labels: ["probe"], help: "Runs of the probe that finished since the agent started" },
  mvm_probe_failures_total: { type: "counter", labels: ["probe"], help: "Of those, the failed ones" },
  mvm_probe_last_check_timestamp_seconds: { type: "gauge", labels: ["probe"], help: "When the probe's last run finished (guest clock, Unix seconds)" },
  mvm_worker_busy: { type: "gauge", labels: [], help: "1 when the worker is busy, 0 when idle" },
  mvm_worker_load1: { type: "gauge", labels: [], help: "1-minute load average the worker plugin sampled" },
  mvm_sleep_prep_last_duration_seconds: { type: "gauge", labels: [], help: "Duration of the last sleep-prep" },
  mvm_sleep_preps_total: { type: "counter", labels: [], help: "Sleep-preps the agent ran since it started" },
  mvm_sleep_prep_failures_total: { type: "counter", labels: [], help: "Of those, the ones that answered ready: false or failed" },
  mvm_bridge_dropped_series: { type: "gauge", labels: ["kind"], help: "Series of this VM left out of this scrape by a cap, by kind (integration, probe, probe_field, request_type, label_value, duplicate, state)" },
  mvm_bridge_vms: { type: "gauge", labels: [], help: "VMs in vms.json", bridge: true },
  mvm_bridge_scrape_duration_seconds: { type: "gauge", labels: [], help: "Time the bridge took to ask every agent for this scrape", bridge: true },
  mvm_bridge_request_duration_seconds: { type: "histogram", labels: ["method", "route", "code"], help: "Time the bridge took to answer (to the first byte for event streams)", bridge: true },
} as const satisfies Record<string, FamilySpec>;

export type FamilyName = keyof typeof FAMILIES;

/** Escape a label value per the text format (backslash, double quote, newline). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function labelText(l: Readonly<Record<string, string>>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

export function fmt(n: number): string {
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
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText({ ...s.labels, le: fmt(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return out.join("\n");
  }
}

/**
 * The samples of one scrape, by family. A label set seen twice in a family is not added (Prometheus
 * refuses a whole scrape holding a duplicate sample): `add` answers false and the caller counts it.
 */
export class Page {
  private readonly samples = new Map<FamilyName, Map<string, number>>();

  add(family: FamilyName, labels: Readonly<Record<string, string>>, value: number): boolean {
    let m = this.samples.get(family);
    if (!m) this.samples.set(family, (m = new Map()));
    const key = labelText(labels);
    if (m.has(key)) return false;
    m.set(key, value);
    return true;
  }

  /** The families in table order: HELP, TYPE, samples (families without samples are left out). */
  render(): string[] {
    const out: string[] = [];
    for (const [name, spec] of Object.entries(FAMILIES) as [FamilyName, FamilySpec][]) {
      const m = this.samples.get(name);
      if (!m?.size || spec.type === "histogram") continue;
      out.push(`# HELP ${name} ${spec.help}`, `# TYPE ${name} ${spec.type}`);
      for (const [labels, v] of m) out.push(`${name}${labels} ${fmt(v)}`);
    }
    return out;
  }
}

export interface RenderExtras {
  /** Sleep-prep durations the bridge itself saw (ms), used when the agent's status carries none. */
  sleepPrepMs?: ReadonlyMap<string, number>;
  histogram?: Histogram;
  /** How long collecting took (seconds). */
  scrapeSeconds?: number;
  /** How long each VM's collection took (ms), by name. */
  collectMs?: ReadonlyMap<string, number>;
  /** Caps on the series guest data may create (defaults: DEFAULT_METRICS_LIMITS). */
  limits?: Partial<MetricsLimits>;
  /**
   * One VM's scrape (`/metrics?vm=NAME`, the target `/api/sd` gives): its series carry neither `vm`
   * nor its vms.json labels (Prometheus adds them as target labels), and the bridge's own families
   * are left out.
   */
  perVm?: boolean;
  /** VMs in vms.json (`mvm_bridge_vms`). */
  vmCount?: number;
}

/**
 * The whole `/metrics` text for these overviews. Every VM gets `mvm_agent_up`; the rest only when the
 * agent answered. Series whose labels come from the guest (integration, probe, field, request type)
 * are capped per VM and counted in `mvm_bridge_dropped_series` when dropped.
 * @example renderMetrics(await collectAll(vms, pool.call, 4000, { health: true, probes: true, worker: true }))
 */
export function renderMetrics(overviews: readonly VmOverview[], extras: RenderExtras = {}): string {
  const limits = { ...DEFAULT_METRICS_LIMITS, ...extras.limits };
  const lines: string[] = [];
  const page = new Page();
  for (const o of overviews) vmSeries(page, o, { limits, perVm: extras.perVm === true, sleepPrepMs: extras.sleepPrepMs?.get(o.vm.name), collectMs: extras.collectMs?.get(o.vm.name) });
  if (!extras.perVm) {
    if (extras.vmCount !== undefined) page.add("mvm_bridge_vms", {}, extras.vmCount);
    if (extras.scrapeSeconds !== undefined) page.add("mvm_bridge_scrape_duration_seconds", {}, extras.scrapeSeconds);
  }
  lines.push(...page.render());
  if (extras.histogram && !extras.perVm) lines.push(extras.histogram.render());
  return lines.join("\n") + "\n";
}
