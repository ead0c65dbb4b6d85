// One VM's series for /metrics: what its overview says, with every label that comes from the guest capped and counted.

import { lastSleepPrepMs, type VmOverview } from "../client/overview.ts";
import type { FamilyName, Page } from "./metrics.ts";

/**
 * Caps on what one VM's guest data can add to a scrape. A guest is not trusted: a probe printing an
 * object of 10 000 keys, or an agent reporting 10 000 integrations or request types, must not
 * become 10 000 series. What a cap drops is counted in `mvm_bridge_dropped_series{kind}`.
 */
export interface MetricsLimits {
  /** Integrations with series, per VM. */
  integrations: number;
  /** Probes with series, per VM. */
  probes: number;
  /** `mvm_probe_field_value` series per probe (`mvmctl serve --metrics-max-probe-fields`). */
  probeFields: number;
  /** Request types with series, per VM. */
  requestTypes: number;
  /** Longest label value taken from guest data (characters); a longer one drops the series. */
  labelValueChars: number;
}

export const DEFAULT_METRICS_LIMITS: MetricsLimits = { integrations: 100, probes: 100, probeFields: 20, requestTypes: 64, labelValueChars: 128 };

/** The kinds of dropped series (`mvm_bridge_dropped_series{kind}`). */
export type DropKind = "integration" | "probe" | "probe_field" | "request_type" | "label_value" | "duplicate" | "state";

const HEALTH_STATES = ["healthy", "starting", "pending", "unchecked", "error", "paused"];
const LIFECYCLE = ["running", "preparing", "sleeping"];

/** A probe value as a number, if it is one (numbers, numeric strings, booleans). */
export function probeNumber(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v.trim())) return Number(v);
  return null;
}

/** RFC 3339 -> Unix seconds, or null. */
function unixSeconds(at: string | null): number | null {
  if (!at) return null;
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

export interface VmSeriesOptions {
  limits: MetricsLimits;
  /** A per-VM scrape: no `vm` and no vms.json labels on the series (they are the target's). */
  perVm: boolean;
  /** The last sleep-prep's duration the bridge saw itself (ms), used when the status has none. */
  sleepPrepMs?: number;
  /** How long collecting this VM took (ms). */
  collectMs?: number;
}

/**
 * Add one VM's series to `page`. Labels taken from the guest (integration, probe, field, request
 * type, unit, version, build) are checked: too long, over a cap, or a repeat drops the series, and
 * `mvm_bridge_dropped_series{kind}` counts what was dropped.
 */
export function vmSeries(page: Page, o: VmOverview, opts: VmSeriesOptions): void {
  const base: Record<string, string> = opts.perVm ? {} : { vm: o.vm.name, ...(o.vm.labels ?? {}) };
  const dropped = new Map<DropKind, number>();
  const drop = (kind: DropKind, n = 1): void => void dropped.set(kind, (dropped.get(kind) ?? 0) + n);
  const fits = (...values: string[]) => values.every((v) => v.length <= opts.limits.labelValueChars);
  /** Add a sample whose own labels may come from the guest. */
  const add = (family: FamilyName, own: Record<string, string>, value: number | null): void => {
    if (value === null) return;
    if (!fits(...Object.values(own))) return drop("label_value");
    if (!page.add(family, { ...base, ...own }, value)) drop("duplicate");
  };

  add("mvm_agent_up", {}, o.status ? 1 : 0);
  if (opts.collectMs !== undefined) add("mvm_agent_collect_duration_seconds", {}, opts.collectMs / 1000);
  const sp = lastSleepPrepMs(o.status) ?? opts.sleepPrepMs ?? null;
  if (sp !== null) add("mvm_sleep_prep_last_duration_seconds", {}, sp / 1000);
  const st = o.status;
  if (st) {
    add("mvm_agent_info", { version: st.version, build: st.build }, 1);
    add("mvm_agent_uptime_seconds", {}, st.uptime_secs);
    add("mvm_agent_work_in_flight", {}, st.work_in_flight);
    if (LIFECYCLE.includes(st.state)) for (const s of LIFECYCLE) add("mvm_lifecycle_state", { state: s }, st.state === s ? 1 : 0);
    else drop("state");
    if (st.config_skipped) add("mvm_config_skipped_files", {}, st.config_skipped.length);
    const types = Object.entries(st.requests ?? {});
    if (types.length > opts.limits.requestTypes) drop("request_type", 2 * (types.length - opts.limits.requestTypes));
    for (const [type, c] of types.slice(0, opts.limits.requestTypes)) {
      add("mvm_agent_requests_total", { type }, num(c.served));
      add("mvm_agent_request_errors_total", { type }, num(c.failed));
    }
    const snap = st.plugins?.snapshot as { sleep_preps_total?: unknown; sleep_prep_failures_total?: unknown } | undefined;
    if (snap && typeof snap === "object") {
      add("mvm_sleep_preps_total", {}, num(snap.sleep_preps_total));
      add("mvm_sleep_prep_failures_total", {}, num(snap.sleep_prep_failures_total));
    }
  }
  if (st && o.health) {
    add("mvm_health_ready", {}, o.health.ready ? 1 : 0);
    const list = o.health.integrations;
    if (list.length > opts.limits.integrations) drop("integration", list.length - opts.limits.integrations);
    for (const i of list.slice(0, opts.limits.integrations)) {
      if (!HEALTH_STATES.includes(i.status)) drop("state");
      for (const s of HEALTH_STATES) add("mvm_health_integration_state", { integration: i.name, state: s }, i.status === s ? 1 : 0);
      add("mvm_health_checks_total", { integration: i.name }, num(i.checks_total));
      add("mvm_health_check_failures_total", { integration: i.name }, num(i.failures_total));
      add("mvm_health_last_check_timestamp_seconds", { integration: i.name }, unixSeconds(i.checked_at));
    }
  }
  if (st && o.probes) {
    const list = o.probes;
    if (list.length > opts.limits.probes) drop("probe", list.length - opts.limits.probes);
    for (const p of list.slice(0, opts.limits.probes)) {
      const probe = p.name;
      add("mvm_probe_ok", { probe }, p.ok ? 1 : 0);
      add("mvm_probe_stale", { probe }, p.stale ? 1 : 0);
      add("mvm_probe_runs_total", { probe }, num(p.runs_total));
      add("mvm_probe_failures_total", { probe }, num(p.failures_total));
      add("mvm_probe_last_check_timestamp_seconds", { probe }, unixSeconds(p.checked_at));
      if (!p.ok) continue;
      add("mvm_probe_value", { probe, unit: p.unit ?? "" }, probeNumber(p.value));
      if (p.value && typeof p.value === "object" && !Array.isArray(p.value)) {
        let n = 0;
        for (const [field, v] of Object.entries(p.value)) {
          const fv = typeof v === "number" || typeof v === "boolean" ? probeNumber(v) : null;
          if (fv === null) continue;
          if (++n > opts.limits.probeFields) {
            drop("probe_field");
            continue;
          }
          add("mvm_probe_field_value", { probe, field }, fv);
        }
      }
    }
  }
  if (st && o.worker) {
    add("mvm_worker_busy", {}, o.worker.status === "busy" ? 1 : 0);
    add("mvm_worker_load1", {}, o.worker.load1);
  }
  for (const [kind, n] of dropped) page.add("mvm_bridge_dropped_series", { ...base, kind }, n);
}
