// Test fixtures for the bridge: small fake plugins with the wire shapes of health, probes, worker, snapshot, fs-diff, exec.

import { Type } from "@sinclair/typebox";
import { AgentError } from "../../agent/errors.ts";
import { defineRequest, type AgentPlugin } from "../../agent/plugin.ts";

const Any = Type.Record(Type.String(), Type.Unknown());
const None = Type.Object({}, { additionalProperties: false });

/** What the fake plugins answer; tests change it between requests. */
export interface FakeState {
  integrations: { name: string; status: string; detail: string | null }[];
  probes: { name: string; ok: boolean | null; value: unknown; unit: string | null; stale: boolean; detail?: string | null }[];
  worker: "idle" | "busy";
  load1: number;
  lastSleepPrepMs: number | null;
  diff: { path: string; kind: string; type: string; size: number }[];
  /** Requests that never answer (to test timeouts), by name. */
  hang: Set<string>;
  /** Hung calls that have started, and those whose client then disconnected. */
  started: string[];
  aborted: string[];
  wakes: unknown[];
}

export function fakeState(): FakeState {
  return {
    integrations: [
      { name: "web", status: "healthy", detail: null },
      { name: "db", status: "error", detail: "exit 1: connection refused" },
    ],
    probes: [
      { name: "disk-usage", ok: true, value: 42, unit: "percent", stale: false },
      { name: "build-id", ok: true, value: "abc\"\n", unit: null, stale: false },
      { name: "never", ok: null, value: null, unit: null, stale: false },
    ],
    worker: "busy",
    load1: 1.5,
    lastSleepPrepMs: 120,
    diff: [
      { path: "/etc/hosts", kind: "modified", type: "file", size: 10 },
      { path: "/srv/new.txt", kind: "created", type: "file", size: 5 },
      { path: "/tmp/gone", kind: "deleted", type: "file", size: 0 },
    ],
    hang: new Set(),
    started: [],
    aborted: [],
    wakes: [],
  };
}

const hangUnlessReleased = (s: FakeState, type: string, signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    s.started.push(type);
    signal.addEventListener("abort", () => {
      s.aborted.push(type);
      reject(new AgentError("E_TIMEOUT", "aborted"));
    });
  });

/** Every fake plugin in one, sharing `s`. */
export function fakePlugins(s: FakeState): AgentPlugin[] {
  const maybeHang = (type: string, signal: AbortSignal) => (s.hang.has(type) ? hangUnlessReleased(s, type, signal) : null);
  return [
    {
      name: "health",
      requests: {
        health: defineRequest({
          params: None,
          result: Any,
          handle: async (_p, ctx) => {
            await maybeHang("health", ctx.signal);
            return { integrations: s.integrations.map((i) => ({ ...i, since: "2026-01-01T00:00:00Z", consecutive_failures: 0, last: null })), ready: s.integrations.every((i) => i.status === "healthy" || i.status === "unchecked") };
          },
        }),
      },
    },
    {
      name: "probes",
      requests: {
        probes: defineRequest({
          params: None,
          result: Any,
          handle: () => ({
            probes: s.probes.map((p) => ({ output: null, detail: null, exit_code: 0, timed_out: false, duration_ms: 1, checked_at: p.ok === null ? null : "2026-01-01T00:00:00Z", ...p })),
          }),
        }),
      },
    },
    {
      name: "worker",
      requests: {
        "worker-status": defineRequest({
          params: None,
          result: Any,
          handle: () => ({ status: s.worker, load1: s.load1, load5: 1, load15: 1, busy_threshold: 0.1, last_busy_at: null, since: "2026-01-01T00:00:00Z" }),
        }),
      },
    },
    {
      name: "snapshot",
      status: () => ({ state: "running", busy: null, last_sleep_prep: s.lastSleepPrepMs === null ? null : { at: "2026-01-01T00:00:00Z", result: { ready: true, state: "sleeping", steps: [], duration_ms: s.lastSleepPrepMs } }, last_wake: null }),
      requests: {
        "sleep-prep": defineRequest({
          params: Type.Object({ drain_timeout_secs: Type.Optional(Type.Number({ minimum: 0 })) }, { additionalProperties: false }),
          result: Any,
          handle: () => ({ ready: true, state: "sleeping", steps: [{ name: "sync", ok: true, duration_ms: 3, detail: null }], duration_ms: 7 }),
        }),
        wake: defineRequest({
          params: Type.Object({ wall_clock: Type.Optional(Type.String()) }, { additionalProperties: false }),
          result: Any,
          handle: (p) => {
            s.wakes.push(p);
            return { was_sleeping: true, clock_skew_ms: p.wall_clock ? 0 : null, clock_set: false, steps: [], duration_ms: 1 };
          },
        }),
      },
    },
    {
      name: "fsdiff",
      requests: {
        "fs-diff": defineRequest({
          params: Type.Object(
            { include: Type.Optional(Type.Array(Type.String())), exclude: Type.Optional(Type.Array(Type.String())), limit: Type.Optional(Type.Integer({ minimum: 1 })), cursor: Type.Optional(Type.String()) },
            { additionalProperties: false },
          ),
          result: Any,
          handle: (p) => {
            const start = p.cursor ? Number(p.cursor) : 0;
            const limit = p.limit ?? 10_000;
            const all = s.diff.filter((d) => !p.include?.length || p.include.some((g) => d.path.startsWith(g.replace(/\*+$/, ""))));
            const page = all.slice(start, start + limit);
            const count = (k: string) => all.filter((d) => d.kind === k).length;
            return {
              upper_dir: "/overlay/upper",
              changes: page,
              summary: { created: count("created"), modified: count("modified"), deleted: count("deleted"), bytes: all.reduce((n, d) => n + d.size, 0) },
              next_cursor: start + limit < all.length ? String(start + limit) : null,
            };
          },
        }),
      },
    },
    {
      name: "exec",
      requests: {
        exec: defineRequest({
          params: Any,
          result: Any,
          handle: async (p, ctx) => {
            await maybeHang("exec", ctx.signal);
            const text = String((p.argv as string[] | undefined)?.slice(1).join(" ") ?? p.command ?? "");
            if (p.stream) {
              ctx.emit("stdout", `${text}\n`);
              ctx.emit("stderr", "warning\n");
            }
            return { exit_code: 3, signal: null, timed_out: false, stdout: p.stream ? "" : `${text}\n`, stderr: "", stdout_truncated: false, stderr_truncated: false, stdout_bytes: text.length + 1, stderr_bytes: 0, duration_ms: 1 };
          },
        }),
        "acme.echo": defineRequest({
          params: Type.Object({ say: Type.String() }, { additionalProperties: false }),
          result: Any,
          handle: (p) => ({ said: p.say }),
        }),
        "acme.fail": defineRequest({
          params: None,
          result: Any,
          handle: () => {
            throw new AgentError("E_BUSY", "try later");
          },
        }),
      },
    },
  ];
}
