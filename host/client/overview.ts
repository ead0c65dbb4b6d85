// One VM's overview for lists, metrics and the dashboard: status, health, probes and worker, asked concurrently.

import type { StatusResult } from "../../agent/wire.ts";
import type { BridgeVm, CallFn } from "../bridge/types.ts";

export interface IntegrationView {
  name: string;
  status: string;
  detail: string | null;
}
export interface HealthView {
  ready: boolean;
  integrations: IntegrationView[];
  counts: Record<string, number>;
}
export interface ProbeView {
  name: string;
  ok: boolean;
  value: unknown;
  unit: string | null;
  stale: boolean;
  detail: string | null;
  checked_at: string | null;
}
export interface WorkerView {
  status: string;
  load1: number | null;
}

/** What the bridge knows about one VM after one round of calls. */
export interface VmOverview {
  vm: BridgeVm;
  reachable: boolean;
  /** Why the agent could not be asked (status failed). */
  error: { code: string; message: string } | null;
  status: StatusResult | null;
  /** null: the agent has no such plugin, or that one call failed. */
  health: HealthView | null;
  probes: ProbeView[] | null;
  worker: WorkerView | null;
}

export interface CollectParts {
  health?: boolean;
  probes?: boolean;
  worker?: boolean;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Read a `health` result leniently (plugins evolve; the bridge shows what it understands). */
export function healthView(result: unknown): HealthView | null {
  const r = result as { ready?: unknown; integrations?: unknown };
  if (!r || !Array.isArray(r.integrations)) return null;
  const integrations = r.integrations.map((i: any) => ({ name: String(i?.name ?? "?"), status: String(i?.status ?? "unknown"), detail: str(i?.detail) }));
  const counts: Record<string, number> = {};
  for (const i of integrations) counts[i.status] = (counts[i.status] ?? 0) + 1;
  return { ready: r.ready === true, integrations, counts };
}

export function probesView(result: unknown): ProbeView[] | null {
  const r = result as { probes?: unknown };
  if (!r || !Array.isArray(r.probes)) return null;
  return r.probes.map((p: any) => ({
    name: String(p?.name ?? "?"),
    ok: p?.ok === true,
    value: p?.value ?? null,
    unit: str(p?.unit),
    stale: p?.stale === true,
    detail: str(p?.detail),
    checked_at: str(p?.checked_at),
  }));
}

export function workerView(result: unknown): WorkerView | null {
  const r = result as { status?: unknown; load1?: unknown };
  if (!r || typeof r.status !== "string") return null;
  return { status: r.status, load1: num(r.load1) };
}

/** The last sleep-prep's duration from the snapshot plugin's status section, if it reports one. */
export function lastSleepPrepMs(status: StatusResult | null): number | null {
  const snap = status?.plugins?.snapshot as Record<string, any> | undefined;
  if (!snap || typeof snap !== "object") return null;
  const last = snap.last_sleep_prep;
  return num(last?.result?.duration_ms) ?? num(last?.duration_ms);
}

function failure(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === "string" ? e.code : "E_UNAVAILABLE", message: typeof e?.message === "string" ? e.message : String(err) };
}

/**
 * Ask one VM for its status and the parts asked for, all at once, each under `timeoutMs`. Never
 * throws: an agent that cannot be reached gives `reachable: false` and the reason.
 */
export async function collectOverview(vm: BridgeVm, call: CallFn, timeoutMs: number, parts: CollectParts = {}): Promise<VmOverview> {
  const ask = (type: string) => (ok: boolean) => (ok ? call(vm, type, {}, { timeoutMs }).then((r) => ({ ok: true as const, r }), (e) => ({ ok: false as const, e })) : Promise.resolve(null));
  const [status, health, probes, worker] = await Promise.all([
    ask("status")(true),
    ask("health")(parts.health !== false),
    ask("probes")(parts.probes === true),
    ask("worker-status")(parts.worker !== false),
  ]);
  if (!status || !status.ok) {
    return { vm, reachable: false, error: failure(status?.e), status: null, health: null, probes: null, worker: null };
  }
  return {
    vm,
    reachable: true,
    error: null,
    status: status.r as StatusResult,
    health: health?.ok ? healthView(health.r) : null,
    probes: probes?.ok ? probesView(probes.r) : null,
    worker: worker?.ok ? workerView(worker.r) : null,
  };
}

/** Collect every VM concurrently. */
export function collectAll(vms: readonly BridgeVm[], call: CallFn, timeoutMs: number, parts?: CollectParts): Promise<VmOverview[]> {
  return Promise.all(vms.map((vm) => collectOverview(vm, call, timeoutMs, parts)));
}
