// The host's one test-support module: honest fake plugins (testing-fakes.ts), fleets of real agents, mvmctl in memory, bridges on real ports.
// Every host test imports its helpers from here; beside it only the browser launcher (testing-browser.ts: it loads
// playwright-core) and, for VMM drivers, a QEMU launcher (client/vmm/testing.ts).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { decodeBody, encodeFrame, FrameReader } from "../agent/frame.ts";
import type { Clock } from "../agent/clock.ts";
import type { AgentPlugin } from "../agent/plugin.ts";
import { startTestAgent, tempDir, type TestAgent } from "../agent/testing.ts";
import { healthPlugin } from "../plugins/health/index.ts";
import { snapshotPlugin } from "../plugins/snapshot/index.ts";
import { serveBridge, type ServeOptions } from "./bridge/serve.ts";
import { runCli, type BaseIO } from "./cli/run.ts";
import { AgentClient } from "./client/agent-client.ts";
import type { AgentCall } from "./client/checked.ts";
import { NOW } from "./testing-fakes.ts";

export * from "./testing-fakes.ts";

// ---- agents ----

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

/**
 * A hung agent: a unix socket that accepts connections and reads every byte, and never answers (a
 * guest whose agent is stuck). Calls to it end only by their deadline.
 * @example const hung = await hungAgent(join(dir, "hung.sock")); vms.push({ name: "hung", agent: hung.address });
 */
export async function hungAgent(path: string): Promise<{ address: string; connections(): number; close(): Promise<void> }> {
  const conns = new Set<net.Socket>();
  let seen = 0;
  const server = net.createServer((c) => {
    seen++;
    conns.add(c);
    c.on("close", () => conns.delete(c));
    c.on("error", () => {});
    c.on("data", () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    address: `unix:${path}`,
    connections: () => seen,
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.destroy();
        server.close(() => r());
      }),
  };
}

// ---- mvmctl in memory ----

/** In-memory io: what a command wrote, with a fixed clock and an abort controller. */
export function memoryIO(
  opts: { env?: Record<string, string | undefined>; stdin?: string | Uint8Array; tty?: boolean; now?: number; columns?: number; rows?: number; clock?: Clock } = {},
) {
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
    ...(opts.columns !== undefined ? { columns: opts.columns } : {}),
    ...(opts.rows !== undefined ? { rows: opts.rows } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
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
  /** The dashboard's login address (with `?token=`), as onListening tells it. */
  loginUrl: string;
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
export async function serveForTest(opts: ServeOptions, env: Record<string, string | undefined>, io: { stdoutIsTTY?: boolean } = {}): Promise<ServedBridge> {
  const out: string[] = [];
  const err: string[] = [];
  const stop = new AbortController();
  let listening!: (v: { url: string; token: string | null; loginUrl: string }) => void;
  const ready = new Promise<{ url: string; token: string | null; loginUrl: string }>((r) => (listening = r));
  const exit = serveBridge({ port: 0, ...opts }, { ...io, stdout: (t) => out.push(t), stderr: (t) => err.push(t), signal: stop.signal, env, onListening: (url, a) => listening({ url, token: a.token, loginUrl: a.loginUrl }) });
  const { url, token, loginUrl } = await Promise.race([ready, exit.then((c) => Promise.reject(new Error(`serve exited ${c}: ${err.join("\n")}`)))]);
  return { url, port: Number(new URL(url).port), token, loginUrl, out, err, stop: () => (stop.abort(), exit) };
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
