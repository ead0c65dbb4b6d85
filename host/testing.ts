// Test support for mvmctl: fake plugins on the real wire schemas, in-memory io, fleets of real agents.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentError } from "../agent/errors.ts";
import { defineRequest, type AgentPlugin } from "../agent/plugin.ts";
import { startTestAgent, tempDir, type TestAgent } from "../agent/testing.ts";
import { FsDiffParams, FsDiffResult, type FsChange } from "../plugins/fsdiff/schemas.ts";
import { HealthCheckParams, HealthCheckResult, HealthParams, HealthResult, type IntegrationEntry } from "../plugins/health/schemas.ts";
import { ProbeRunParams, ProbeRunResult, ProbesParams, ProbesResult, type ProbeResult } from "../plugins/probes/schemas.ts";
import { SleepPrepParams, SleepPrepResult, WakeParams, WakeResult } from "../plugins/snapshot/schemas.ts";
import { WorkerStatusParams, WorkerStatusResult } from "../plugins/worker/schemas.ts";
import { serveBridge, type ServeOptions } from "./bridge/serve.ts";
import { runCli, type BaseIO } from "./cli/run.ts";

export const T0 = "2026-11-28T10:00:00.000Z";
/** The fixed "now" of memory io: one minute after T0. */
export const NOW = Date.parse(T0) + 60_000;

/** What the fake plugins answer; tests change it between calls. */
export interface FakeState {
  integrations: IntegrationEntry[];
  probes: ProbeResult[];
  worker: "idle" | "busy";
  changes: FsChange[];
  /** fs-diff pages hold at most this many entries (to exercise next_cursor). */
  pageSize: number;
  /** fs-diff calls seen (with their params). */
  diffCalls: unknown[];
  sleepReady: boolean;
  sleepCalls: unknown[];
  wakeCalls: unknown[];
  restoreFails: boolean;
}

export function fakeState(over: Partial<FakeState> = {}): FakeState {
  return {
    integrations: [
      { name: "web", status: "healthy", detail: "exit 0", since: T0, consecutive_failures: 0, last: { ok: true, exit_code: 0, signal: null, timed_out: false, duration_ms: 12, output: "", checked_at: T0 } },
      { name: "db", status: "unchecked", detail: "no health_cmd", since: T0, consecutive_failures: 0, last: null },
    ],
    probes: [
      { name: "disk-usage", ok: true, value: 42, output: "42%", unit: "percent", detail: null, exit_code: 0, timed_out: false, duration_ms: 5, checked_at: T0, stale: false },
      { name: "queue", ok: null, value: null, output: null, unit: null, detail: null, exit_code: null, timed_out: false, duration_ms: null, checked_at: null, stale: false },
    ],
    worker: "idle",
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
    ...over,
  };
}

function healthSection(s: FakeState) {
  const count = (st: string) => s.integrations.filter((i) => i.status === st).length;
  return {
    integrations: s.integrations.length,
    healthy: count("healthy"),
    starting: count("starting"),
    error: count("error"),
    pending: count("pending"),
    unchecked: count("unchecked"),
    paused: count("paused"),
    ready: s.integrations.every((i) => i.status === "healthy" || i.status === "unchecked"),
  };
}

/**
 * Fake health, probes, worker, fs-diff and snapshot plugins: each request is declared with the real
 * plugin's schemas, so the agent's router rejects any answer the real plugin could not give.
 */
export function fakePlugins(s: FakeState): AgentPlugin[] {
  return [
    {
      name: "health",
      requests: {
        health: defineRequest({ params: HealthParams, result: HealthResult, handle: () => ({ integrations: s.integrations, ready: healthSection(s).ready }) }),
        "health-check": defineRequest({
          params: HealthCheckParams,
          result: HealthCheckResult,
          handle: ({ name }) => {
            const e = s.integrations.find((i) => i.name === name);
            if (!e) throw new AgentError("E_NOT_FOUND", `no integration named "${name}"`);
            return e;
          },
        }),
      },
      status: () => healthSection(s),
    },
    {
      name: "probes",
      requests: {
        probes: defineRequest({ params: ProbesParams, result: ProbesResult, handle: () => ({ probes: s.probes }) }),
        "probe-run": defineRequest({
          params: ProbeRunParams,
          result: ProbeRunResult,
          handle: ({ name }) => {
            const p = s.probes.find((x) => x.name === name);
            if (!p) throw new AgentError("E_NOT_FOUND", `no probe named "${name}"`);
            return p;
          },
        }),
      },
    },
    {
      name: "worker",
      requests: {
        "worker-status": defineRequest({
          params: WorkerStatusParams,
          result: WorkerStatusResult,
          handle: () => ({ status: s.worker, load1: 0.01, load5: 0.02, load15: 0.03, busy_threshold: 0.1, last_busy_at: null, since: T0 }),
        }),
      },
      status: () => ({ status: s.worker }),
    },
    {
      name: "fsdiff",
      requests: {
        "fs-diff": defineRequest({
          params: FsDiffParams,
          result: FsDiffResult,
          handle: (p) => {
            s.diffCalls.push(p);
            const from = p.cursor ? Number(p.cursor) : 0;
            const size = Math.min(p.limit ?? s.pageSize, s.pageSize);
            const page = s.changes.slice(from, from + size);
            const summary = { created: 0, modified: 0, deleted: 0, bytes: 0 };
            for (const c of page) summary[c.kind]++;
            const next = from + size < s.changes.length ? String(from + size) : null;
            return { upper_dir: "/overlay/upper", lower_known: true, changes: page, summary, errors: [], next_cursor: next };
          },
        }),
      },
    },
    {
      name: "snapshot",
      requests: {
        "sleep-prep": defineRequest({
          params: SleepPrepParams,
          result: SleepPrepResult,
          handle: (p) => {
            s.sleepCalls.push(p);
            return {
              ready: s.sleepReady,
              state: "sleeping" as const,
              steps: [
                { name: "checkpoint:db", ok: s.sleepReady, duration_ms: 12, detail: s.sleepReady ? "exit 0" : "exit 1: disk full" },
                { name: "sync", ok: true, duration_ms: 3, detail: "" },
                { name: "drop-caches", ok: true, duration_ms: 1, detail: "" },
              ],
              duration_ms: 16,
            };
          },
        }),
        wake: defineRequest({
          params: WakeParams,
          result: WakeResult,
          handle: (p) => {
            s.wakeCalls.push(p);
            return {
              was_sleeping: true,
              clock_skew_ms: p.wall_clock ? 1500 : null,
              clock_set: !!p.wall_clock,
              steps: [{ name: "restore:db", ok: !s.restoreFails, duration_ms: 8, detail: s.restoreFails ? "exit 2" : "exit 0" }],
              duration_ms: 9,
            };
          },
        }),
      },
    },
  ];
}

/** In-memory io: what a command wrote, with a fixed clock and an abort controller. */
export function memoryIO(opts: { env?: Record<string, string | undefined>; stdin?: string | Uint8Array; tty?: boolean; now?: number } = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stop = new AbortController();
  const io: BaseIO = {
    out: (t) => void out.push(Buffer.from(t)),
    outBytes: (b) => void out.push(Buffer.from(b)),
    err: (t) => void err.push(Buffer.from(t)),
    errBytes: (b) => void err.push(Buffer.from(b)),
    readStdin: async () => (typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : (opts.stdin ?? new Uint8Array())),
    stdoutIsTTY: opts.tty ?? false,
    env: opts.env ?? {},
    signal: stop.signal,
    now: () => opts.now ?? NOW,
  };
  return {
    io,
    stop,
    get stdout() {
      return Buffer.concat(out).toString("utf8");
    },
    get stderr() {
      return Buffer.concat(err).toString("utf8");
    },
    stdoutBytes: () => Buffer.concat(out),
  };
}

/** Run mvmctl in memory; returns the exit code and both outputs. */
export async function mvmctl(argv: string[], opts: Parameters<typeof memoryIO>[0] = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const m = memoryIO(opts);
  const code = await runCli(argv, m.io, "9.9.9");
  return { code, stdout: m.stdout, stderr: m.stderr };
}

/** Agents on temp unix sockets with a vms.json naming them (plus any extra entries). */
export async function fleet(
  specs: { name: string; plugins?: AgentPlugin[]; console_log?: string }[],
  extra: { name: string; agent: string; console_log?: string }[] = [],
): Promise<{ vmsFile: string; dir: string; agents: TestAgent[]; close(): Promise<void> }> {
  const d = tempDir("mvmctl-");
  const agents = await Promise.all(specs.map((s) => startTestAgent({ plugins: s.plugins ?? [] })));
  const vms = [
    ...specs.map((s, i) => ({ name: s.name, agent: `unix:${agents[i]!.socket}`, ...(s.console_log ? { console_log: s.console_log } : {}), labels: { role: "test" } })),
    ...extra,
  ];
  const vmsFile = join(d.path, "vms.json");
  writeFileSync(vmsFile, JSON.stringify({ vms }, null, 2));
  return {
    vmsFile,
    dir: d.path,
    agents,
    async close() {
      await Promise.all(agents.map((a) => a.close()));
      d.cleanup();
    },
  };
}

/** A bridge served by serveBridge on a free port, as a test drives it. */
export interface ServedBridge {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  port: number;
  token: string | null;
  /** What serve printed (one entry per line) and wrote to stderr. */
  out: string[];
  err: string[];
  /** Stop it (as SIGINT would); resolves with its exit code. */
  stop(): Promise<number>;
}

/**
 * `serveBridge` on port 0 with these options and an environment of its own (a config dir for the
 * default token file); rejects with its stderr when it exits instead of listening.
 * @example const b = await serveForTest({ vms: vmsFile, auth: { token: "t0ken" } }, { XDG_CONFIG_HOME: dir }); ...; expect(await b.stop()).toBe(0);
 */
export async function serveForTest(opts: ServeOptions, env: Record<string, string | undefined>): Promise<ServedBridge> {
  const out: string[] = [];
  const err: string[] = [];
  const stop = new AbortController();
  let listening!: (v: { url: string; token: string | null }) => void;
  const ready = new Promise<{ url: string; token: string | null }>((r) => (listening = r));
  const exit = serveBridge({ port: 0, ...opts }, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), signal: stop.signal, env, onListening: (url, a) => listening({ url, token: a.token }) });
  const { url, token } = await Promise.race([ready, exit.then((c) => Promise.reject(new Error(`serve exited ${c}: ${err.join("\n")}`)))]);
  return { url, port: Number(new URL(url).port), token, out, err, stop: () => (stop.abort(), exit) };
}
