// WorkerStatus, IntegrationStatus and ProbeStatus: the native worker-status, health and probes answers in mvm shapes.

import type { Static } from "@sinclair/typebox";
import type { ResultOf } from "../../agent/plugin.ts";
import { failedCall, integrationSpecs, type VerbDeps } from "./context.ts";
import type {
  IntegrationStatusReport,
  MvmError,
  MvmIntegrationReport,
  MvmIntegrationStatus,
  MvmProbeResult,
  ProbeStatusReport,
  WorkerStatusAnswer,
} from "./schemas.ts";
import { mvmTime, oneLine } from "./text.ts";

type IntegrationEntry = ResultOf<"health">["integrations"][number];
type ProbeResult = ResultOf<"probes">["probes"][number];
/** What this module reads of the snapshot plugin's status section (absent without that plugin). */
type SnapshotSection = { last_sleep_prep?: { at: string; result: ResultOf<"sleep-prep"> } | null };

/** `"WorkerStatus"` -> `{"WorkerStatus":{"status","last_busy_at"}}` from `worker-status`. */
export async function workerStatus(d: VerbDeps): Promise<Static<typeof WorkerStatusAnswer> | MvmError> {
  let r: ResultOf<"worker-status">;
  try {
    r = await d.ctx.call("worker-status", {});
  } catch (e) {
    return failedCall(d, "WorkerStatus", "worker-status", e);
  }
  return { WorkerStatus: { status: r.status, last_busy_at: mvmTime(r.last_busy_at) } };
}

/**
 * Our status -> theirs, with the original's semantics: it had no thresholds, so its status is the
 * last check's (`active` after a pass, `{"error": detail}` after a failure outside the startup
 * grace), whatever our `failure_threshold` (3 by default) and `success_threshold` say. Unchecked
 * integrations (no health_cmd: nothing to wait for) are `active`; `starting`, `pending` (no check
 * yet) and `paused` keep their names.
 */
export function mvmStatus(e: IntegrationEntry, timeoutSecs?: number): MvmIntegrationStatus {
  if (e.status === "unchecked") return "active";
  if (e.status === "paused" || e.status === "starting") return e.status;
  if (e.status === "error") return { error: e.detail };
  if (!e.last) return e.status === "healthy" ? "active" : "pending";
  return e.last.ok ? "active" : { error: checkDetail(e, timeoutSecs) };
}

/** The original's health detail: "ok", or why the last check failed. */
function checkDetail(e: IntegrationEntry, timeoutSecs: number | undefined): string {
  const last = e.last!;
  if (last.ok) return "ok";
  if (last.timed_out) return timeoutSecs ? `timed out after ${timeoutSecs}s` : "timed out";
  const out = oneLine(last.output, 500);
  if (last.signal) return `killed by ${last.signal}${out ? `: ${out}` : ""}`;
  return out ? `exit code ${last.exit_code}: ${out}` : `exit code ${last.exit_code}`;
}

/** When each integration last checkpointed well: our own CheckpointIntegrations runs and the last sleep-prep. */
async function lastCheckpoints(d: VerbDeps): Promise<Map<string, number>> {
  const out = new Map(d.checkpoints);
  try {
    const status = await d.ctx.call("status", {});
    const last = (status.plugins.snapshot as SnapshotSection | undefined)?.last_sleep_prep;
    if (last) {
      const at = Date.parse(last.at);
      for (const s of last.result.steps) {
        if (!s.ok || !s.name.startsWith("checkpoint:")) continue;
        const name = s.name.slice("checkpoint:".length);
        if (!(out.get(name)! >= at)) out.set(name, at);
      }
    }
  } catch {
    // No snapshot plugin (or no status): only our own runs are known.
  }
  return out;
}

/** `"IntegrationStatus"` -> `{"IntegrationStatusReport":{"integrations":[...]}}` from `health`. */
export async function integrationStatus(d: VerbDeps): Promise<Static<typeof IntegrationStatusReport> | MvmError> {
  let r: ResultOf<"health">;
  try {
    r = await d.ctx.call("health", {});
  } catch (e) {
    return failedCall(d, "IntegrationStatus", "health", e);
  }
  const checkpoints = await lastCheckpoints(d);
  const timeouts = new Map((integrationSpecs(d) ?? []).map((s) => [s.name, s.health_timeout_secs]));
  const integrations = r.integrations.map((e): MvmIntegrationReport => {
    const checked = e.last ? mvmTime(e.last.checked_at) : null;
    return {
      name: e.name,
      status: mvmStatus(e, timeouts.get(e.name)),
      last_checkpoint_at: mvmTime(checkpoints.get(e.name)),
      state_size_bytes: 0,
      health: e.last && checked ? { healthy: e.last.ok, detail: checkDetail(e, timeouts.get(e.name)), checked_at: checked } : null,
    };
  });
  return { IntegrationStatusReport: { integrations } };
}

/**
 * One probe the original's way: healthy means it ran and exited 0 (so an `exit_code` probe that
 * exits 1 is unhealthy, as in the original); `output` is the parsed value, only when healthy.
 */
export function mvmProbe(p: ProbeResult): MvmProbeResult | null {
  const checked = mvmTime(p.checked_at);
  if (!checked) return null;
  const healthy = p.ok === true && p.exit_code === 0;
  const detail = healthy ? "ok" : (p.detail ?? (p.exit_code !== null ? `exit code ${p.exit_code}` : "failed"));
  const out: MvmProbeResult = { name: p.name, healthy, detail, checked_at: checked };
  if (healthy && p.value !== null && p.value !== undefined) out.output = p.value;
  return out;
}

/** `"ProbeStatus"` -> `{"ProbeStatusReport":{"probes":[...]}}` from `probes`; probes not run yet are left out. */
export async function probeStatus(d: VerbDeps): Promise<Static<typeof ProbeStatusReport> | MvmError> {
  let r: ResultOf<"probes">;
  try {
    r = await d.ctx.call("probes", {});
  } catch (e) {
    return failedCall(d, "ProbeStatus", "probes", e);
  }
  const probes = r.probes.map(mvmProbe).filter((p): p is MvmProbeResult => p !== null);
  return { ProbeStatusReport: { probes } };
}
