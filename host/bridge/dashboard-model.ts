// What the dashboard shows of each VM, before any HTML: severity and its order, since when, labels, uptime, version, the diff totals.

import type { VmOverview } from "../client/overview.ts";

/** The last fs-diff totals the bridge saw for a VM (the whole walk's: `fs-diff {summary_only: true}`). */
export interface DiffSeen {
  at: number;
  summary?: { created: number; modified: number; deleted: number; bytes: number };
  error?: string;
}

/** How bad a VM looks, worst first: the order of the cards. */
export const SEVERITIES = ["unreachable", "agent-error", "error", "not-ready", "warning", "asleep", "ok"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The words of each severity on its badge. */
export const SEVERITY_TEXT: Record<Severity, string> = {
  unreachable: "unreachable",
  "agent-error": "agent error",
  error: "error",
  "not-ready": "not ready",
  warning: "warning",
  asleep: "asleep",
  ok: "ok",
};

/**
 * A VM's severity: unreachable; reachable but no usable status; an integration in error or a
 * config file skipped; not ready (starting, pending); a probe failing or stale; sleeping or
 * preparing a snapshot; else ok.
 * @example severityOf(overview) // "error"
 */
export function severityOf(o: VmOverview): Severity {
  if (!o.reachable) return "unreachable";
  if (!o.status) return "agent-error";
  const integrations = o.health?.integrations ?? [];
  if (integrations.some((i) => i.status === "error") || (o.status.config_skipped?.length ?? 0) > 0 || (o.health?.skipped.length ?? 0) > 0) return "error";
  if (o.health && !o.health.ready) return "not-ready";
  if ((o.probes ?? []).some((p) => (!p.ok && p.checked_at !== null) || p.stale)) return "warning";
  if (o.status.state !== "running") return "asleep";
  return "ok";
}

/** Worst first, then by name (stable whatever the order of vms.json). */
export function bySeverity<T extends { severity: Severity; name: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Since when each VM has been in its severity, as far as this bridge saw (an agent that cannot be
 * reached says nothing about itself). Forgets VMs that left vms.json.
 * @example const since = sinceTracker(); since.see("web1", "unreachable", Date.now()) // the first time it was seen so
 */
export function sinceTracker() {
  const seen = new Map<string, { severity: Severity; at: number }>();
  return {
    see(name: string, severity: Severity, now: number): number {
      const had = seen.get(name);
      if (had && had.severity === severity) return had.at;
      seen.set(name, { severity, at: now });
      return now;
    },
    keep(names: ReadonlySet<string>): void {
      for (const n of seen.keys()) if (!names.has(n)) seen.delete(n);
    },
  };
}

/** `3h 12m`, `42s`, `2d 4h` (an uptime or an age). */
export function duration(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** `10:02:05Z (3m 12s ago)`; the date too when it is not today. */
export function sinceText(at: number, now: number): string {
  const iso = new Date(at).toISOString();
  const day = iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? "" : `${iso.slice(0, 10)} `;
  return `${day}${iso.slice(11, 19)}Z (${duration((now - at) / 1000)} ago)`;
}

/** RFC 3339 -> ms, or null. */
export function parseTime(at: string | null | undefined): number | null {
  if (!at) return null;
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? ms : null;
}

/** One card's facts (the HTML is made from this alone). */
export interface VmView {
  name: string;
  severity: Severity;
  /** Since when the VM has had this severity: the oldest `since` of its failing integrations, else what the bridge saw. */
  since: number;
  overview: VmOverview;
  diff: DiffSeen | undefined;
}

/**
 * The views of every VM, worst first. `since` of an error comes from the agent (the failing
 * integration's `since`), otherwise from what the bridge saw.
 */
export function vmViews(overviews: readonly VmOverview[], diffs: ReadonlyMap<string, DiffSeen>, tracker: ReturnType<typeof sinceTracker>, now: number): VmView[] {
  tracker.keep(new Set(overviews.map((o) => o.vm.name)));
  const views = overviews.map((o): VmView => {
    const severity = severityOf(o);
    let since = tracker.see(o.vm.name, severity, now);
    if (severity === "error" || severity === "not-ready") {
      const times = (o.health?.integrations ?? []).filter((i) => i.status !== "healthy" && i.status !== "unchecked").map((i) => parseTime(i.since)).filter((t): t is number => t !== null);
      if (times.length) since = Math.min(...times);
    }
    return { name: o.vm.name, severity, since, overview: o, diff: diffs.get(o.vm.name) };
  });
  return bySeverity(views);
}
