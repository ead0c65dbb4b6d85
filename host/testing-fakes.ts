// The host's fake plugins, on the real plugins' own request tables (testing.test.ts checks every answer); tests import them through testing.ts.

import { Type } from "@sinclair/typebox";
import picomatch from "picomatch";
import { AgentError } from "../agent/errors.ts";
import { defineRequest, defineRequests, type AgentPlugin } from "../agent/plugin.ts";
import { execRequests } from "../plugins/exec/schemas.ts";
import { fsdiffRequests, type FsChange } from "../plugins/fsdiff/schemas.ts";
import { healthRequests, type HealthStatusSection, type IntegrationEntry } from "../plugins/health/schemas.ts";
import { probesRequests, type ProbeResult } from "../plugins/probes/schemas.ts";
import { snapshotRequests, type SnapshotStatus } from "../plugins/snapshot/schemas.ts";
import { workerRequests } from "../plugins/worker/schemas.ts";

export const T0 = "2026-11-28T10:00:00.000Z";
/** The fixed "now" of memory io: one minute after T0. */
export const NOW = Date.parse(T0) + 60_000;

/** An integration entry as the health plugin gives it. */
export function integration(name: string, status: IntegrationEntry["status"], detail: string): IntegrationEntry {
  const last = status === "unchecked" ? null : { ok: status === "healthy", exit_code: status === "healthy" ? 0 : 1, signal: null, timed_out: false, duration_ms: 12, output: "", checked_at: T0 };
  const checks = status === "unchecked" ? 0 : 10;
  return { name, status, detail, since: T0, consecutive_failures: status === "error" ? 3 : 0, last, checks_total: checks, failures_total: status === "error" ? 3 : 0 };
}

/** What the fake plugins answer; tests change it between calls. */
export interface FakeState {
  integrations: IntegrationEntry[];
  probes: ProbeResult[];
  worker: "idle" | "busy";
  load1: number;
  changes: FsChange[];
  /** fs-diff pages hold at most this many entries (to exercise next_cursor). */
  pageSize: number;
  diffCalls: unknown[];
  sleepReady: boolean;
  sleepCalls: unknown[];
  wakeCalls: unknown[];
  restoreFails: boolean;
  /** The last sleep-prep the snapshot status section reports (its duration), or none. */
  lastSleepPrepMs: number | null;
  /** integrations.d files the health plugin skipped (its answer's skipped_files; they make it not ready). */
  skippedFiles: { file: string; message: string }[];
  /** Sleep-preps the snapshot section counts, and those not ready. */
  sleepPreps: { total: number; failed: number };
  /** The custom `acme` plugin's status section (any JSON value a custom plugin may report). */
  acmeStatus: unknown;
  /** Requests that never answer until their caller goes away (timeouts, disconnects), by name. */
  hang: Set<string>;
  /** Hung calls that started, and those whose client then went away. */
  started: string[];
  aborted: string[];
}

export function fakeState(over: Partial<FakeState> = {}): FakeState {
  return {
    integrations: [integration("web", "healthy", "exit 0"), integration("db", "unchecked", "no health_cmd")],
    probes: [
      { name: "disk-usage", ok: true, value: 42, output: "42%", unit: "percent", detail: null, exit_code: 0, timed_out: false, duration_ms: 5, checked_at: T0, stale: false, runs_total: 7, failures_total: 1 },
      { name: "queue", ok: null, value: null, output: null, unit: null, detail: null, exit_code: null, timed_out: false, duration_ms: null, checked_at: null, stale: false, runs_total: 0, failures_total: 0 },
    ],
    worker: "idle",
    load1: 0.01,
    changes: [
      { path: "/etc/hosts", kind: "modified", type: "file", size: 120 },
      { path: "/srv/new", kind: "created", type: "dir", size: 0 },
      { path: "/srv/new/data.bin", kind: "created", type: "file", size: 2048 },
      { path: "/var/old.log", kind: "deleted", type: "file", size: 0 },
    ],
    pageSize: 3,
    diffCalls: [],
    sleepReady: true,
    sleepCalls: [],
    wakeCalls: [],
    restoreFails: false,
    lastSleepPrepMs: null,
    skippedFiles: [],
    sleepPreps: { total: 0, failed: 0 },
    acmeStatus: { jobs: { queued: 3, running: 1 }, mode: "batch", last_error: null },
    hang: new Set(),
    started: [],
    aborted: [],
    ...over,
  };
}

/** A VM in trouble: db failing, worker busy (load 1.5), a text probe and one not run yet, a sleep-prep of 120 ms in its status. */
export function troubledState(over: Partial<FakeState> = {}): FakeState {
  const probe = (name: string, ok: boolean | null, value: unknown, unit: string | null): ProbeResult => ({
    name, ok, value, unit, output: ok === null ? null : String(value), detail: null, exit_code: ok === null ? null : 0, timed_out: false, duration_ms: ok === null ? null : 5, checked_at: ok === null ? null : T0, stale: false,
    runs_total: ok === null ? 0 : 4, failures_total: 0,
  });
  return fakeState({
    integrations: [integration("web", "healthy", "exit 0"), integration("db", "error", "exit 1: connection refused")],
    probes: [probe("disk-usage", true, 42, "percent"), probe("build-id", true, 'abc"\n', null), probe("never", null, null, null)],
    worker: "busy",
    load1: 1.5,
    lastSleepPrepMs: 120,
    sleepPreps: { total: 2, failed: 1 },
    ...over,
  });
}

/** The health plugin's status section for these entries. */
function healthSection(s: FakeState): HealthStatusSection {
  const count = (st: string) => s.integrations.filter((i) => i.status === st).length;
  const [healthy, starting, error, pending, unchecked, paused] = ["healthy", "starting", "error", "pending", "unchecked", "paused"].map(count) as [number, number, number, number, number, number];
  const ready = s.skippedFiles.length === 0 && s.integrations.every((i) => i.status === "healthy" || i.status === "unchecked");
  const checks_total = s.integrations.reduce((a, i) => a + (i.checks_total ?? 0), 0);
  const failures_total = s.integrations.reduce((a, i) => a + (i.failures_total ?? 0), 0);
  return { integrations: s.integrations.length, healthy, starting, error, pending, unchecked, paused, ready, skipped_files: s.skippedFiles.length, checks_total, failures_total };
}

/** The snapshot plugin's status section. */
function snapshotSection(s: FakeState): SnapshotStatus {
  const last = s.lastSleepPrepMs === null ? null : { at: T0, result: { ready: true, state: "sleeping" as const, steps: [], duration_ms: s.lastSleepPrepMs } };
  return {
    state: "running",
    busy: null,
    last_sleep_prep: last,
    last_wake: null,
    sleep_preps_total: s.sleepPreps.total,
    sleep_prep_failures_total: s.sleepPreps.failed,
    watchdog: { resume_after_secs: 600, armed: false, fires_in_secs: null },
  };
}

/** As the real plugin streams them (plugins/snapshot): each step `running`, then ended with the answer's fields. */
function announceSteps(steps: { name: string; ok: boolean; duration_ms: number; detail: string }[], emit: (event: string, data: unknown) => void): void {
  for (const st of steps) {
    emit("step", { name: st.name, status: "running", duration_ms: 0, detail: "" });
    emit("step", { name: st.name, status: st.ok ? "ok" : "failed", duration_ms: st.duration_ms, detail: st.detail });
  }
}

/** A request in `s.hang` waits until its caller goes away (then it is counted as aborted). */
async function hangIfAsked(s: FakeState, type: string, signal: AbortSignal): Promise<void> {
  if (!s.hang.has(type)) return;
  s.started.push(type);
  await new Promise<never>((_, reject) =>
    signal.addEventListener("abort", () => {
      s.aborted.push(type);
      reject(new AgentError("E_TIMEOUT", "aborted"));
    }),
  );
}

/** The worker plugin's status section, with the keys the real one reports (testing.test.ts compares them). */
function workerSection(s: FakeState) {
  return { ...workerStatus(s), work_in_flight: 0, idle_after_secs: 0, sample_interval_secs: 5, loadavg_path: "/proc/loadavg", sampled_at: T0, quiet_for_secs: null, read_error: null };
}
function workerStatus(s: FakeState) {
  return { status: s.worker, load1: s.load1, load5: 0.02, load15: 0.03, busy_threshold: 0.1, last_busy_at: null, since: T0 };
}

/**
 * Fake health, probes, worker, fs-diff, snapshot and exec plugins and a custom `acme` one, sharing `s`
 * (`except` leaves some out, to put real ones in their place). Each plugin serves its real request
 * table (defineRequests): the router answers E_INTERNAL for a result the real plugin could not give,
 * and testing.test.ts checks every default answer and status section.
 */
export function fakePlugins(s: FakeState, opts: { except?: string[] } = {}): AgentPlugin[] {
  return allFakes(s).filter((p) => !opts.except?.includes(p.name));
}

function allFakes(s: FakeState): AgentPlugin[] {
  const find = <T extends { name: string }>(list: T[], name: string, what: string): T => {
    const x = list.find((i) => i.name === name);
    if (!x) throw new AgentError("E_NOT_FOUND", `no ${what} named "${name}"`);
    return x;
  };
  // Each plugin's own table (its schemas.ts): the params, result and metadata are the real ones.
  return [
    {
      name: "health",
      requests: defineRequests(healthRequests, {
        health: async (_p, ctx) => {
          await hangIfAsked(s, "health", ctx.signal);
          return { integrations: s.integrations, ready: healthSection(s).ready, skipped_files: s.skippedFiles };
        },
        "health-check": ({ name }) => find(s.integrations, name, "integration"),
      }),
      status: () => healthSection(s),
    },
    {
      name: "probes",
      requests: defineRequests(probesRequests, { probes: () => ({ probes: s.probes, skipped_files: [] }), "probe-run": ({ name }) => find(s.probes, name, "probe") }),
    },
    { name: "worker", requests: defineRequests(workerRequests, { "worker-status": () => workerStatus(s) }), status: () => workerSection(s) },
    {
      name: "fsdiff",
      requests: defineRequests(fsdiffRequests, {
        "fs-diff": (p) => {
          s.diffCalls.push(p);
          const inc = p.include?.length ? picomatch(p.include, { dot: true }) : () => true;
          const exc = p.exclude?.length ? picomatch(p.exclude, { dot: true }) : () => false;
          const all = s.changes.filter((c) => inc(c.path) && !exc(c.path));
          if (p.summary_only) {
            // As the real plugin's count mode: the whole walk's totals, no change listed.
            if (p.limit !== undefined || p.cursor !== undefined) throw new AgentError("E_INVALID_PARAMS", "summary_only counts the whole walk: it takes no limit or cursor");
            const summary = { created: 0, modified: 0, deleted: 0, bytes: 0 };
            for (const c of all) {
              summary[c.kind]++;
              if (c.kind !== "deleted") summary.bytes += c.size;
            }
            return { upper_dir: "/overlay/upper", lower_known: true, changes: [], summary, errors: [], next_cursor: null };
          }
          const from = p.cursor ? Number(p.cursor) : 0;
          const size = Math.min(p.limit ?? s.pageSize, s.pageSize);
          const page = all.slice(from, from + size);
          // As the real plugin: the summary is of this page.
          const summary = { created: 0, modified: 0, deleted: 0, bytes: 0 };
          for (const c of page) {
            summary[c.kind]++;
            if (c.kind !== "deleted") summary.bytes += c.size;
          }
          return { upper_dir: "/overlay/upper", lower_known: true, changes: page, summary, errors: [], next_cursor: from + size < all.length ? String(from + size) : null };
        },
      }),
    },
    {
      name: "snapshot",
      status: () => snapshotSection(s),
      requests: defineRequests(snapshotRequests, {
        "sleep-prep": (p, ctx) => {
          s.sleepCalls.push(p);
          const steps = [
            { name: "checkpoint:db", ok: s.sleepReady, duration_ms: 12, detail: s.sleepReady ? "exit 0" : "exit 1: disk full" },
            { name: "sync", ok: true, duration_ms: 3, detail: "" },
            { name: "drop-caches", ok: true, duration_ms: 1, detail: "" },
          ];
          if (p.stream) announceSteps(steps, ctx.emit);
          return { ready: s.sleepReady, state: "sleeping" as const, steps, duration_ms: 16 };
        },
        wake: (p, ctx) => {
          s.wakeCalls.push(p);
          const steps = [{ name: "restore:db", ok: !s.restoreFails, duration_ms: 8, detail: s.restoreFails ? "exit 2" : "exit 0" }];
          if (p.stream) announceSteps(steps, ctx.emit);
          return { was_sleeping: true, clock_skew_ms: p.wall_clock ? 1500 : null, clock_set: !!p.wall_clock, steps, duration_ms: 9 };
        },
      }),
    },
    {
      name: "exec",
      requests: defineRequests(execRequests, {
        // Echoes its arguments (argv after the program, or the command line) and exits 3; streamed: stdout, then "warning" on stderr.
        exec: async (p, ctx) => {
          await hangIfAsked(s, "exec", ctx.signal);
          const out = `${p.argv ? p.argv.slice(1).join(" ") : (p.command ?? "")}\n`;
          const enc = (t: string) => (p.encoding === "base64" ? Buffer.from(t).toString("base64") : t);
          if (p.stream) {
            ctx.emit("stdout", enc(out));
            ctx.emit("stderr", enc("warning\n"));
          }
          const n = Buffer.byteLength(out);
          return { exit_code: 3, signal: null, timed_out: false, stdout: p.stream ? "" : enc(out), stderr: p.stream ? "" : enc("warning\n"), stdout_truncated: false, stderr_truncated: false, stdout_bytes: n, stderr_bytes: 8, duration_ms: 1 };
        },
      }),
    },
    {
      name: "acme",
      // A custom plugin's status section: whatever it likes; the dashboard shows it generically, as text.
      status: () => s.acmeStatus,
      requests: {
        "acme.echo": defineRequest({ params: Type.Object({ say: Type.String() }, { additionalProperties: false }), result: Type.Object({ said: Type.String() }, { additionalProperties: false }), handle: (p) => ({ said: p.say }) }),
        "acme.fail": defineRequest({
          params: Type.Object({}, { additionalProperties: false }),
          result: Type.Object({}, { additionalProperties: false }),
          handle: () => {
            throw new AgentError("E_BUSY", "try later");
          },
        }),
      },
    },
  ];
}
