// One VM's overview (status, and health, probes, worker when asked), each call under its deadline; never throws.

import { StatusResult } from "../../agent/wire.ts";
import { checkAnswer } from "./checked.ts";
import { ClientError } from "./errors.ts";
import type { VmEntry } from "./vm-list.ts";

export interface VmCallOptions {
  timeoutMs: number;
  /** Event frames of streaming requests (`exec` with `stream: true`), in order, before the answer. */
  onEvent?: (event: string, data: unknown) => void;
  /** Cancels the call (the bridge: the HTTP client went away). */
  signal?: AbortSignal;
}

/**
 * Call one request on one VM's agent. Resolves with the result; rejects with an error carrying a
 * string `code` (an agent code such as `E_BUSY`, or the client's own: unreachable, timeout). The
 * bridge's connection pool and mvmctl's per-command clients are two of these.
 * @example const status = await call(vm, "status", {}, { timeoutMs: 5000 });
 */
export type VmCall = (vm: VmEntry, type: string, params: Record<string, unknown> | undefined, opts: VmCallOptions) => Promise<unknown>;

export interface IntegrationView {
  name: string;
  status: string;
  detail: string | null;
  /** When the status last changed (RFC 3339), if the agent said. */
  since: string | null;
  /** When the last check finished (RFC 3339), or null. */
  checked_at: string | null;
  /** Counters of agents that keep them (null from older ones). */
  checks_total: number | null;
  failures_total: number | null;
}
export interface HealthView {
  ready: boolean;
  integrations: IntegrationView[];
  counts: Record<string, number>;
  /** integrations.d files the agent skipped, and why (empty from agents before `skipped_files`). */
  skipped: { file: string; message: string }[];
}
export interface ProbeView {
  name: string;
  ok: boolean;
  value: unknown;
  unit: string | null;
  stale: boolean;
  detail: string | null;
  checked_at: string | null;
  runs_total: number | null;
  failures_total: number | null;
}
export interface WorkerView {
  status: string;
  load1: number | null;
}

/** What one round of calls told about one VM. */
export interface VmOverview {
  vm: VmEntry;
  /** The agent answered `status` (an error answer or a malformed one count: the agent is there). */
  reachable: boolean;
  /** Why there is no status: the call failed (unreachable, timed out, an agent error) or its answer broke its schema. */
  error: { code: string; message: string } | null;
  /** The agent's `status`, checked against its schema; null on any failure. */
  status: StatusResult | null;
  /** null: not asked, the agent has no such plugin, or that one call failed. */
  health: HealthView | null;
  probes: ProbeView[] | null;
  worker: WorkerView | null;
}

/** Which calls to make besides `status`. */
export interface CollectParts {
  health?: boolean;
  probes?: boolean;
  worker?: boolean;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Read a `health` result leniently (plugins evolve; the bridge shows what it understands). */
/** Files an answer says were skipped: well-formed entries only. */
function skippedView(v: unknown): { file: string; message: string }[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x: any) => typeof x?.file === "string" && typeof x?.message === "string").map((x: any) => ({ file: x.file, message: x.message }));
}

function healthView(result: unknown): HealthView | null {
  const r = result as { ready?: unknown; integrations?: unknown; skipped_files?: unknown };
  if (!r || !Array.isArray(r.integrations)) return null;
  const integrations = r.integrations.map((i: any) => ({
    name: String(i?.name ?? "?"),
    status: String(i?.status ?? "unknown"),
    detail: str(i?.detail),
    since: str(i?.since),
    checked_at: str(i?.last?.checked_at),
    checks_total: num(i?.checks_total),
    failures_total: num(i?.failures_total),
  }));
  const counts: Record<string, number> = {};
  for (const i of integrations) counts[i.status] = (counts[i.status] ?? 0) + 1;
  return { ready: r.ready === true, integrations, counts, skipped: skippedView(r.skipped_files) };
}

function probesView(result: unknown): ProbeView[] | null {
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
    runs_total: num(p?.runs_total),
    failures_total: num(p?.failures_total),
  }));
}

function workerView(result: unknown): WorkerView | null {
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

function errorOf(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === "string" ? e.code : "E_UNAVAILABLE", message: typeof e?.message === "string" ? e.message : String(err) };
}

/**
 * Ask one VM for its status and the parts asked for, all at once, each under `timeoutMs`. Never
 * throws: an agent that cannot be reached gives `reachable: false` and the reason.
 * @example const o = await collectOverview(vm, pool.call, 5000, { health: true }); o.status?.version
 */
export async function collectOverview(vm: VmEntry, call: VmCall, timeoutMs: number, parts: CollectParts = {}): Promise<VmOverview> {
  const ask = (type: string, want: boolean) => (want ? call(vm, type, {}, { timeoutMs }).then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e })) : Promise.resolve(null));
  const [status, health, probes, worker] = await Promise.all([ask("status", true), ask("health", parts.health === true), ask("probes", parts.probes === true), ask("worker-status", parts.worker === true)]);
  const none = { status: null, health: null, probes: null, worker: null };
  if (!status?.ok) {
    const e = status?.e;
    return { vm, reachable: e instanceof ClientError && e.fromAgent, error: errorOf(e), ...none };
  }
  let checked: StatusResult;
  try {
    checked = checkAnswer("status", StatusResult, status.r);
  } catch (e) {
    return { vm, reachable: true, error: errorOf(e), ...none };
  }
  return {
    vm,
    reachable: true,
    error: null,
    status: checked,
    health: health?.ok ? healthView(health.r) : null,
    probes: probes?.ok ? probesView(probes.r) : null,
    worker: worker?.ok ? workerView(worker.r) : null,
  };
}

/** Collect every VM concurrently. */
export function collectAll(vms: readonly VmEntry[], call: VmCall, timeoutMs: number, parts?: CollectParts): Promise<VmOverview[]> {
  return Promise.all(vms.map((vm) => collectOverview(vm, call, timeoutMs, parts)));
}
