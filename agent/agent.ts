// createAgent: the assembly of a plugin host, router, scheduler, event bus and session table, without sockets.

import { builtinPlugin } from "./builtin.ts";
import { systemClock, type Clock } from "./clock.ts";
import { ConfigFiles } from "./config-file.ts";
import { AgentError } from "./errors.ts";
import { EventBus } from "./events.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./frame.ts";
import { createLogger, type Logger } from "./log.ts";
import type { AgentConfig, AgentEvents, AgentPlugin, CallOptions, TypedCall } from "./plugin.ts";
import { PluginHost } from "./plugin-host.ts";
import { Router } from "./router.ts";
import { Scheduler } from "./scheduler.ts";
import type { Session } from "./session.ts";
import { SessionTable, type Backpressure } from "./sessions.ts";
import type { Transport, TransportKind } from "./transport.ts";
import type { Answer } from "./wire.ts";
import { WorkCounter } from "./work.ts";

export interface AgentOptions {
  plugins: AgentPlugin[];
  config?: Partial<AgentConfig>;
  clock?: Clock;
  log?: Logger;
  /** The port `CONNECT <port>` lines must name (default 52). */
  vsockPort?: number;
  maxConnections?: number;
  idleTimeoutSecs?: number;
  frameTimeoutSecs?: number;
  /** How long one plugin's start may take (default 10 s). */
  pluginStartTimeoutMs?: number;
  /** Most id-carrying requests served at once per connection (default 64). */
  maxConcurrentPerConnection?: number;
}

/** Something listening (a socket, a serial port); `close()` stops accepting and releases it. */
export interface Listener {
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A running agent, in memory. `dispatch` answers a decoded body as a socket client would be
 * answered; `listen` (in agent/server.ts) adds sockets to it.
 */
export interface Agent {
  readonly router: Router;
  readonly scheduler: Scheduler;
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly clock: Clock;
  readonly vsockPort: number;
  /** The agent's state word (`status.state`): `running` unless a plugin set another. */
  readonly state: string;
  /** Wall-clock ms when the agent was created. */
  readonly startedAt: number;
  /** Start plugins in order. Registration is frozen after this. */
  start(): Promise<void>;
  /** Answer one decoded body (the native envelope). */
  dispatch(body: unknown, opts?: { signal?: AbortSignal; onEvent?: (frame: unknown) => void }): Promise<Answer>;
  /** Call a request in-process; throws AgentError on failure. Typed from the AgentRequests registry. */
  readonly call: TypedCall;
  /** Open a session over a transport (listeners call this); null when over --max-connections. */
  openSession(transport: Transport, kind: TransportKind): Session | null;
  /** Keep a listener so that stop() closes it. */
  addListener(l: Listener): void;
  readonly listeners: readonly Listener[];
  connections(): number;
  /** Connections over MAX_UNSENT_BYTES of unread output (not being read), and the bytes queued on all. */
  backpressure(): Backpressure;
  /** Units of work in flight (requests marked `work`, plugin work). */
  workInFlight(): number;
  /** Every plugin, the built-in `core` first. */
  readonly plugins: readonly AgentPlugin[];
  /** SIGHUP: every plugin with a reload re-reads its files. */
  reload(): Promise<void>;
  /** Stop accepting, drain requests (deadline), stop plugins in reverse, release everything. */
  stop(opts?: { drainMs?: number }): Promise<void>;
}

/**
 * Build an agent from a list of plugins.
 * @example
 * const agent = createAgent({ plugins: [healthPlugin({ configDir: "/etc/mvm" })] });
 * await agent.start();
 * console.log(await agent.dispatch({ type: "ping", id: 1 })); // { id: 1, type: "ping", ok: true, result: {} }
 * await listen(agent, "unix:/run/mvm/agent.sock");
 */
export function createAgent(opts: AgentOptions): Agent {
  const clock = opts.clock ?? systemClock();
  const log = opts.log ?? createLogger();
  const config: AgentConfig = {
    configDir: opts.config?.configDir ?? "/etc/mvm",
    build: opts.config?.build ?? "dev",
    version: opts.config?.version ?? "0.0.0",
    maxFrameBytes: opts.config?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    file: opts.config?.file ?? {},
    readFile: opts.config?.readFile,
    logRepeatSecs: opts.config?.logRepeatSecs,
    files: opts.config?.files ?? new ConfigFiles(),
    transports: opts.config?.transports,
  };
  const vsockPort = opts.vsockPort ?? 52;
  const work = new WorkCounter();
  const router = new Router(log.child("router"), config.maxFrameBytes);
  const scheduler = new Scheduler(clock, log.child("scheduler"));
  const events = new EventBus(log);
  const startedAt = clock.now();
  const core = builtinPlugin({
    config,
    clock,
    startedAt,
    state: () => host.state,
    requestNames: () => router.names(),
    requestEntries: () => router.entries(),
    pluginNames: () => host.plugins.filter((p) => p !== core).map((p) => p.name),
    statusSections: () => host.statusSections(),
    connections: () => sessions.size,
    backpressure: () => sessions.backpressure(),
    workInFlight: () => work.count,
    requestCounts: () => router.counts(),
  });
  const host = new PluginHost([core, ...opts.plugins], {
    clock,
    log,
    config,
    router,
    scheduler,
    events,
    work,
    startTimeoutMs: opts.pluginStartTimeoutMs ?? 10_000,
  });
  const sessions = new SessionTable({
    clock,
    log,
    router,
    beginWork: work.begin,
    maxConnections: opts.maxConnections ?? 256,
    idleMs: (opts.idleTimeoutSecs ?? 300) * 1000,
    frameMs: (opts.frameTimeoutSecs ?? 10) * 1000,
    maxFrameBytes: config.maxFrameBytes,
    vsockPort,
    maxConcurrentPerConnection: opts.maxConcurrentPerConnection,
  });
  const listeners: Listener[] = [];
  let started = false;
  let stopping: Promise<void> | null = null;

  const agent: Agent = {
    router,
    scheduler,
    config,
    log,
    clock,
    vsockPort,
    startedAt,
    get state() {
      return host.state;
    },
    get listeners() {
      return listeners;
    },
    plugins: host.plugins,
    async start() {
      if (started) return;
      started = true;
      router.freeze();
      await host.start();
    },
    dispatch: (body, o = {}) => router.dispatch(body, { signal: o.signal, emit: o.onEvent, beginWork: work.begin }),
    call: ((type: string, params?: unknown, o?: CallOptions) => router.call(type, params, { beginWork: work.begin, signal: o?.signal })) as TypedCall,
    openSession: (transport, kind) => sessions.open(transport, kind),
    addListener: (l) => void listeners.push(l),
    connections: () => sessions.size,
    backpressure: () => sessions.backpressure(),
    workInFlight: () => work.count,
    async reload() {
      log.info("reload requested");
      await host.reload();
    },
    stop(o = {}) {
      stopping ??= (async () => {
        sessions.close();
        for (const l of listeners.splice(0)) {
          try {
            await l.close();
          } catch (e) {
            log.warn(`closing ${l.address}: ${(e as Error).message}`);
          }
        }
        const drainMs = o.drainMs ?? 5000;
        if (await sessions.drain(drainMs)) log.warn(`requests still in flight after ${drainMs} ms; cutting them`);
        sessions.endAll();
        await host.stop();
        log.info("stopped");
      })();
      return stopping;
    },
  };
  return agent;
}

export { AgentError };
export type { AgentEvents };
