// The host's one test-support module: honest fake plugins, fleets of real agents, mvmctl in memory, bridges on real ports.
// Over 300 lines on purpose: every host test takes its helpers from here (issue 16), one section per need.
// The browser launcher is beside it (testing-browser.ts: it loads playwright-core); QEMU helpers are in client/vmm/testing.ts.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import picomatch from "picomatch";
import { AgentError } from "../agent/errors.ts";
import { decodeBody, encodeFrame, FrameReader } from "../agent/frame.ts";
import { defineRequest, type AgentPlugin } from "../agent/plugin.ts";
import { startTestAgent, tempDir, type TestAgent } from "../agent/testing.ts";
import { ExecParams, ExecResult } from "../plugins/exec/schemas.ts";
import { FsDiffParams, FsDiffResult, type FsChange } from "../plugins/fsdiff/schemas.ts";
import { healthPlugin } from "../plugins/health/index.ts";
import { HealthCheckParams, HealthCheckResult, HealthParams, HealthResult, type HealthStatusSection, type IntegrationEntry } from "../plugins/health/schemas.ts";
import { ProbeRunParams, ProbeRunResult, ProbesParams, ProbesResult, type ProbeResult } from "../plugins/probes/schemas.ts";
import { snapshotPlugin } from "../plugins/snapshot/index.ts";
import { SleepPrepParams, SleepPrepResult, WakeParams, WakeResult, type SnapshotStatus } from "../plugins/snapshot/schemas.ts";
import { WorkerStatusParams, WorkerStatusResult } from "../plugins/worker/schemas.ts";
import { serveBridge, type ServeOptions } from "./bridge/serve.ts";
import { runCli, type BaseIO } from "./cli/run.ts";
import { AgentClient } from "./client/agent-client.ts";
import type { AgentCall } from "./client/checked.ts";

// ---- fake plugins: declared with the real plugins' schemas, so the agent's router refuses any answer the real one could not give ----

export const T0 = "2026-11-28T10:00:00.000Z";
/** The fixed "now" of memory io: one minute after T0. */
export const NOW = Date.parse(T0) + 60_000;

/** An integration entry as the health plugin gives it. */
export function integration(name: string, status: IntegrationEntry["status"], detail: string): IntegrationEntry {
  const last = status === "unchecked" ? null : { ok: status === "healthy", exit_code: status === "healthy" ? 0 : 1, signal: null, timed_out: false, duration_ms: 12, output: "", checked_at: T0 };
  return { name, status, detail, since: T0, consecutive_failures: status === "error" ? 1 : 0, last };
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
      { name: "disk-usage", ok: true, value: 42, output: "42%", unit: "percent", detail: null, exit_code: 0, timed_out: false, duration_ms: 5, checked_at: T0, stale: false },
      { name: "queue", ok: null, value: null, output: null, unit: null, detail: null, exit_code: null, timed_out: false, duration_ms: null, checked_at: null, stale: false },
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
  });
  return fakeState({
    integrations: [integration("web", "healthy", "exit 0"), integration("db", "error", "exit 1: connection refused")],
    probes: [probe("disk-usage", true, 42, "percent"), probe("build-id", true, 'abc"\n', null), probe("never", null, null, null)],
    worker: "busy",
    load1: 1.5,
    lastSleepPrepMs: 120,
    ...over,
  });
}

/** The health plugin's status section for these entries. */
function healthSection(s: FakeState): HealthStatusSection {
  const count = (st: string) => s.integrations.filter((i) => i.status === st).length;
  const [healthy, starting, error, pending, unchecked, paused] = ["healthy", "starting", "error", "pending", "unchecked", "paused"].map(count) as [number, number, number, number, number, number];
  return { integrations: s.integrations.length, healthy, starting, error, pending, unchecked, paused, ready: s.integrations.every((i) => i.status === "healthy" || i.status === "unchecked") };
}

/** The snapshot plugin's status section. */
function snapshotSection(s: FakeState): SnapshotStatus {
  const last = s.lastSleepPrepMs === null ? null : { at: T0, result: { ready: true, state: "sleeping" as const, steps: [], duration_ms: s.lastSleepPrepMs } };
  return { state: "running", busy: null, last_sleep_prep: last, last_wake: null, watchdog: { resume_after_secs: 600, armed: false, fires_in_secs: null } };
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
 * (`except` leaves some out, to put real ones in their place). Each request is declared with the real
 * plugin's schemas: the router answers E_INTERNAL for a result the real plugin could not give, and
 * testing.test.ts checks every default answer and status section.
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
  return [
    {
      name: "health",
      requests: {
        health: defineRequest({
          params: HealthParams,
          result: HealthResult,
          handle: async (_p, ctx) => {
            await hangIfAsked(s, "health", ctx.signal);
            return { integrations: s.integrations, ready: healthSection(s).ready };
          },
        }),
        "health-check": defineRequest({ params: HealthCheckParams, result: HealthCheckResult, handle: ({ name }) => find(s.integrations, name, "integration") }),
      },
      status: () => healthSection(s),
    },
    {
      name: "probes",
      requests: {
        probes: defineRequest({ params: ProbesParams, result: ProbesResult, handle: () => ({ probes: s.probes }) }),
        "probe-run": defineRequest({ params: ProbeRunParams, result: ProbeRunResult, handle: ({ name }) => find(s.probes, name, "probe") }),
      },
    },
    {
      name: "worker",
      requests: { "worker-status": defineRequest({ params: WorkerStatusParams, result: WorkerStatusResult, handle: () => workerStatus(s) }) },
      status: () => workerSection(s),
    },
    {
      name: "fsdiff",
      requests: {
        "fs-diff": defineRequest({
          params: FsDiffParams,
          result: FsDiffResult,
          handle: (p) => {
            s.diffCalls.push(p);
            const inc = p.include?.length ? picomatch(p.include, { dot: true }) : () => true;
            const exc = p.exclude?.length ? picomatch(p.exclude, { dot: true }) : () => false;
            const all = s.changes.filter((c) => inc(c.path) && !exc(c.path));
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
    },
    {
      name: "snapshot",
      status: () => snapshotSection(s),
      requests: {
        "sleep-prep": defineRequest({
          params: SleepPrepParams,
          result: SleepPrepResult,
          handle: (p) => {
            s.sleepCalls.push(p);
            const steps = [
              { name: "checkpoint:db", ok: s.sleepReady, duration_ms: 12, detail: s.sleepReady ? "exit 0" : "exit 1: disk full" },
              { name: "sync", ok: true, duration_ms: 3, detail: "" },
              { name: "drop-caches", ok: true, duration_ms: 1, detail: "" },
            ];
            return { ready: s.sleepReady, state: "sleeping" as const, steps, duration_ms: 16 };
          },
        }),
        wake: defineRequest({
          params: WakeParams,
          result: WakeResult,
          handle: (p) => {
            s.wakeCalls.push(p);
            const steps = [{ name: "restore:db", ok: !s.restoreFails, duration_ms: 8, detail: s.restoreFails ? "exit 2" : "exit 0" }];
            return { was_sleeping: true, clock_skew_ms: p.wall_clock ? 1500 : null, clock_set: !!p.wall_clock, steps, duration_ms: 9 };
          },
        }),
      },
    },
    {
      name: "exec",
      requests: {
        // Echoes its arguments (argv after the program, or the command line) and exits 3; streamed: stdout, then "warning" on stderr.
        exec: defineRequest({
          params: ExecParams,
          result: ExecResult,
          handle: async (p, ctx) => {
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
    },
    {
      name: "acme",
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

/**
 * A misbehaving agent: a unix socket speaking frames that answers every request with `answer(type)` as
 * its `ok: true` result, or with the error when `answer` throws one ({code, message}). For hostile answers
 * a real agent never gives (a status that breaks its schema).
 * @example const liar = await lyingAgent(join(dir, "liar.sock"), () => ({ state: 42 }));
 */
export async function lyingAgent(path: string, answer: (type: string) => unknown): Promise<{ address: string; close(): Promise<void> }> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on("close", () => conns.delete(c));
    c.on("error", () => {});
    const reader = new FrameReader({ maxFrameBytes: 1 << 20, lines: "none" });
    c.on("data", (chunk: Buffer) => {
      for (const item of reader.push(chunk)) {
        if (item.kind !== "frame") return void c.destroy();
        const d = decodeBody(item.body);
        const req = (d.ok ? d.value : {}) as { id?: number; type?: string };
        let frame: unknown;
        try {
          frame = { id: req.id, type: req.type, ok: true, result: answer(String(req.type)) };
        } catch (e) {
          frame = { id: req.id, type: req.type, ok: false, error: e };
        }
        c.write(encodeFrame(frame));
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    address: `unix:${path}`,
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.destroy();
        server.close(() => r());
      }),
  };
}

// ---- mvmctl in memory ----

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
  const text = (b: Buffer[]) => Buffer.concat(b).toString("utf8");
  return {
    io,
    stop,
    get stdout() {
      return text(out);
    },
    get stderr() {
      return text(err);
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

/** Agents on temp unix sockets with a vms.json naming them (labels `role: test`), plus any extra entries. */
export async function fleet(
  specs: { name: string; plugins?: AgentPlugin[]; console_log?: string }[],
  extra: { name: string; agent: string; console_log?: string }[] = [],
): Promise<{ vmsFile: string; dir: string; agents: TestAgent[]; close(): Promise<void> }> {
  const d = tempDir("mvmctl-");
  const agents = await Promise.all(specs.map((s) => startTestAgent({ plugins: s.plugins ?? [] })));
  const vms = [...specs.map((s, i) => ({ name: s.name, agent: `unix:${agents[i]!.socket}`, ...(s.console_log ? { console_log: s.console_log } : {}), labels: { role: "test" } })), ...extra];
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

// ---- the bridge on a real port ----

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

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Read server-sent events from `res` until `until(events)` is true or the stream ends; then cancel it.
 * @example const evs = await readSse(await fetch(url), (e) => e.some((x) => x.event === "result"));
 */
export async function readSse(res: Response, until: (events: SseEvent[]) => boolean = () => false, onEvent?: (e: SseEvent) => void | Promise<void>): Promise<SseEvent[]> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  const events: SseEvent[] = [];
  let buf = "";
  try {
    while (!(events.length && until(events))) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      for (let i = buf.indexOf("\n\n"); i >= 0 && !(events.length && until(events)); i = buf.indexOf("\n\n")) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
        const e = { event, data: data.join("\n") };
        events.push(e);
        await onEvent?.(e);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Send `head` (request line and headers, without the blank line) and `body` as they are, read the
 * whole answer (`Connection: close` is added). For requests fetch() would rewrite: any Host, no Host, HTTP/1.0.
 * @example await rawHttp(port, "POST /api/vms/dev/exec HTTP/1.1\r\nHost: rebind.evil.example:7070\r\nContent-Type: text/plain", '{"command":"id"}');
 */
export function rawHttp(port: number, head: string, body = "", address = "127.0.0.1"): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, address, () => {
      const len = body ? `\r\nContent-Length: ${Buffer.byteLength(body)}` : "";
      sock.write(`${head}${len}\r\nConnection: close\r\n\r\n${body}`);
    });
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", reject);
    sock.on("close", () => {
      const text = Buffer.concat(chunks).toString();
      const end = text.indexOf("\r\n\r\n");
      const lines = text.slice(0, end < 0 ? text.length : end).split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers, body: end < 0 ? "" : text.slice(end + 4) });
    });
  });
}

// ---- the snapshot loop against a real agent ----

export interface LoopAgent {
  agent: TestAgent;
  /** `unix:/tmp/.../agent.sock`, for vms.json. */
  address: string;
  /** Where the integration's commands write `checkpoint` and `restore` markers. */
  markers: string;
  client: AgentClient;
  call: AgentCall;
  marker(name: "checkpoint" | "restore"): string | null;
  /** The agent's lifecycle state now. */
  state(): Promise<string>;
  close(): Promise<void>;
}

/**
 * An agent with the real health and snapshot plugins and one critical integration whose checkpoint
 * and restore commands write marker files (`checkpoint: "exit 3"` makes sleep-prep not ready). The
 * clock is never set (setClock off: tests run as root on the host) and sync is the plugin's test seam.
 * @example const a = await loopAgent(); await takeSnapshot({ agent: a.call, ... }); expect(a.marker("restore")).not.toBeNull();
 */
export async function loopAgent(opts: { checkpoint?: string } = {}): Promise<LoopAgent> {
  const d = tempDir("mvm-loop-agent-");
  const markers = join(d.path, "markers");
  mkdirSync(markers);
  mkdirSync(join(d.path, "etc", "integrations.d"), { recursive: true });
  const app = { name: "app", checkpoint_cmd: opts.checkpoint ?? `echo checkpointed > ${markers}/checkpoint`, restore_cmd: `echo restored > ${markers}/restore`, critical: true };
  writeFileSync(join(d.path, "etc", "integrations.d", "app.json"), JSON.stringify(app));
  const agent = await startTestAgent({
    plugins: [
      healthPlugin({ configDir: join(d.path, "etc"), watch: false }),
      snapshotPlugin({ dropCachesPath: join(d.path, "drop_caches"), setClock: false, sys: { sync: async () => "test sync" } }),
    ],
  });
  const client = new AgentClient(`unix:${agent.socket}`, { timeoutMs: 10_000 });
  return {
    agent,
    address: `unix:${agent.socket}`,
    markers,
    client,
    call: (type, params, o) => client.call(type, params, o),
    marker: (name) => (existsSync(join(markers, name)) ? readFileSync(join(markers, name), "utf8").trim() : null),
    state: async () => (await client.call("status")).state,
    async close() {
      await client.close();
      await agent.close();
      d.cleanup();
    },
  };
}
