// createAgent: plugins + router + scheduler + sessions, without sockets (listen() adds those).

import { systemClock, type Clock, type TimerHandle } from "./clock.ts";
import { runCommand } from "./command.ts";
import { ConfigFiles } from "./config-file.ts";
import { AgentError } from "./errors.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./frame.ts";
import { createLogger, throttledLine, type Logger } from "./log.ts";
import type {
  AgentConfig,
  AgentEvents,
  AgentPlugin,
  AgentServices,
  CallOptions,
  LifecycleState,
  PluginContext,
} from "./plugin.ts";
import { RegistrationError, Router } from "./router.ts";
import { Scheduler, type Schedule } from "./scheduler.ts";
import { Session, type SessionHost, type Transport, type TransportKind } from "./session.ts";
import { builtinPlugin } from "./builtin.ts";
import type { Answer } from "./wire.ts";

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
  readonly state: LifecycleState;
  /** Wall-clock ms when the agent was created. */
  readonly startedAt: number;
  /** Start plugins in order. Registration is frozen after this. */
  start(): Promise<void>;
  /** Answer one decoded body (the native envelope). */
  dispatch(body: unknown, opts?: { signal?: AbortSignal; onEvent?: (frame: unknown) => void }): Promise<Answer>;
  /** Call a request in-process; throws AgentError on failure. */
  call(type: string, params?: unknown): Promise<unknown>;
  /** Open a session over a transport (listeners call this); null when over --max-connections. */
  openSession(transport: Transport, kind: TransportKind): Session | null;
  /** Keep a listener so that stop() closes it. */
  addListener(l: Listener): void;
  readonly listeners: readonly Listener[];
  connections(): number;
  /** Connections over MAX_UNSENT_BYTES of unread output (not being read), and the bytes queued on all. */
  backpressure(): { backedUp: number; unsentBytes: number };
  /** Units of work in flight (requests marked `work`, plugin work). */
  workInFlight(): number;
  /** Every plugin, the built-in `core` first. */
  readonly plugins: readonly AgentPlugin[];
  /** SIGHUP: every plugin with a reload re-reads its files. */
  reload(): Promise<void>;
  /** Stop accepting, drain requests (deadline), stop plugins in reverse, release everything. */
  stop(opts?: { drainMs?: number }): Promise<void>;
}

interface PluginSlot {
  plugin: AgentPlugin;
  schedules: Set<Schedule>;
  disposers: (() => void | Promise<void>)[];
  started: boolean;
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
    files: opts.config?.files ?? new ConfigFiles(),
    transports: opts.config?.transports,
  };
  const vsockPort = opts.vsockPort ?? 52;
  const maxConnections = opts.maxConnections ?? 256;
  const idleMs = (opts.idleTimeoutSecs ?? 300) * 1000;
  const frameMs = (opts.frameTimeoutSecs ?? 10) * 1000;
  const router = new Router(log.child("router"), config.maxFrameBytes);
  const scheduler = new Scheduler(clock, log.child("scheduler"));
  const services = new Map<string, unknown>();
  const listenersByEvent = new Map<string, Set<(p: unknown) => void | Promise<void>>>();
  const sessions = new Set<Session>();
  const listeners: Listener[] = [];
  let state: LifecycleState = "running";
  let work = 0;
  let started = false;
  let stopping: Promise<void> | null = null;
  let sweepTimer: TimerHandle | null = null;
  const startedAt = clock.now();

  const beginWork = (_label: string) => {
    work++;
    let done = false;
    return () => {
      if (!done) (done = true), work--;
    };
  };

  const emit = async (event: string, payload: unknown) => {
    const fns = [...(listenersByEvent.get(event) ?? [])];
    await Promise.all(
      fns.map(async (fn) => {
        try {
          await fn(payload);
        } catch (e) {
          log.error(`listener of "${event}" failed: ${(e as Error)?.stack ?? e}`);
        }
      }),
    );
  };

  const slots: PluginSlot[] = [];
  const names = new Set<string>();
  const agentRef: { current?: Agent } = {};
  const all = [builtinPlugin(() => agentRef.current!), ...opts.plugins];
  for (const plugin of all) {
    if (names.has(plugin.name)) throw new RegistrationError("E_DUPLICATE_PLUGIN", `plugin "${plugin.name}" is listed twice`);
    names.add(plugin.name);
    for (const [type, spec] of Object.entries(plugin.requests ?? {})) router.register(plugin.name, type, spec);
    for (const d of plugin.dialects ?? []) router.addDialect(d);
    slots.push({ plugin, schedules: new Set(), disposers: [], started: false });
  }

  const contextFor = (slot: PluginSlot): PluginContext => {
    const plog = log.child(slot.plugin.name);
    return {
      name: slot.plugin.name,
      log: plog,
      clock,
      config,
      every(intervalMs, task, o) {
        const s = scheduler.every(intervalMs, task, { ...o, name: `${slot.plugin.name}/${o?.name ?? "task"}` });
        slot.schedules.add(s);
        const stop = s.stop.bind(s);
        (s as { stop: () => void }).stop = () => {
          slot.schedules.delete(s);
          stop();
        };
        return s;
      },
      onDispose(d) {
        slot.disposers.push(d);
      },
      runCommand: (spec) => runCommand({ clock, ...spec }),
      beginWork,
      workInFlight: () => work,
      lifecycle: {
        get state() {
          return state;
        },
        set(s) {
          if (s !== state) log.info(`lifecycle: ${state} -> ${s}`);
          state = s;
        },
        pauseSchedules: (deadlineMs) => scheduler.pauseAll(deadlineMs),
        resumeSchedules: (o) => scheduler.resumeAll(o),
      },
      provide(key, service) {
        if (services.has(key as string)) throw new RegistrationError("E_DUPLICATE_PLUGIN", `service "${String(key)}" is provided twice`);
        services.set(key as string, service);
        slot.disposers.push(() => void services.delete(key as string));
      },
      service<K extends keyof AgentServices>(key: K) {
        return services.get(key as string) as AgentServices[K] | undefined;
      },
      on(event, fn) {
        let set = listenersByEvent.get(event);
        if (!set) listenersByEvent.set(event, (set = new Set()));
        const f = fn as (p: unknown) => void | Promise<void>;
        set.add(f);
        const off = () => void set!.delete(f);
        slot.disposers.push(off);
        return off;
      },
      emit: (event, payload) => emit(event, payload),
      call: ((type: string, params?: unknown, o?: CallOptions) => router.call(type, params, { beginWork, signal: o?.signal })) as PluginContext["call"],
    };
  };

  // Clients can repeat these at will: one console line a second, with a count.
  const refusedLine = throttledLine(1000, () => clock.monotonic(), (n) =>
    log.warn(`over --max-connections (${maxConnections}): refused ${n} connection(s) since the last such line; each was closed at once`),
  );
  const silentLine = throttledLine(1000, () => clock.monotonic(), (n) =>
    log.warn(`closed ${n} connection(s) that sent no complete frame within --frame-timeout-secs (${frameMs / 1000}s) of connecting`),
  );

  const sweep = () => {
    sweepTimer = null;
    const now = clock.monotonic();
    sessionHost.coarseNow = now;
    refusedLine.flush();
    silentLine.flush();
    let silent = 0;
    for (const s of sessions) {
      const serial = s.transport.label.startsWith("serial:");
      if (!s.framed && !serial && s.partialSince === null && now - s.openedAt > frameMs) {
        // Connected and silent: it would hold a slot until the idle timeout without ever asking anything.
        silent++;
        s.end();
        s.close();
      } else if (s.partialSince !== null && !s.isPaused && now - s.partialSince > frameMs) {
        if (serial) s.resetPartial();
        else {
          log.warn(`${s.transport.label}: half a frame stalled for over ${frameMs / 1000}s; closing`);
          s.end();
          s.close();
        }
      } else if (s.isBackedUp && !serial && now - s.lastProgress > idleMs) {
        // Its client has read nothing for the idle timeout: the answers it left would be held for ever.
        log.warn(`${s.transport.label}: ${s.transport.unsent?.() ?? 0} bytes of answers unread for over ${idleMs / 1000}s; closing`);
        s.abort();
      } else if (!s.busy && now - s.lastActivity > idleMs && !serial) {
        log.info(`${s.transport.label}: idle for over ${idleMs / 1000}s; closing`);
        s.end();
        s.close();
      }
    }
    if (silent) silentLine.hit(silent);
    armSweep();
  };
  const armSweep = () => {
    if (sweepTimer || stopping) return;
    if (sessions.size === 0) return;
    sweepTimer = clock.setTimeout(sweep, Math.min(1000, frameMs / 2, idleMs / 2));
  };

  const sessionHost: SessionHost & { coarseNow: number } = {
    coarseNow: clock.monotonic(),
    router,
    log,
    beginWork,
    onClosed(s) {
      sessions.delete(s);
    },
  };

  async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let t: TimerHandle | undefined;
    const timeout = new Promise<never>((_, rej) => {
      t = clock.setTimeout(() => rej(new Error(`${what} took longer than ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      if (t) clock.clearTimeout(t);
    }
  }

  async function stopSlot(slot: PluginSlot): Promise<void> {
    if (!slot.started) return;
    slot.started = false;
    try {
      await slot.plugin.stop?.();
    } catch (e) {
      log.error(`plugin ${slot.plugin.name} failed to stop: ${(e as Error)?.stack ?? e}`);
    }
    // Abort runs in flight and wait for them to end (their commands' groups are killed by then),
    // so nothing a plugin started outlives its stop.
    const stopped = [...slot.schedules];
    for (const s of stopped) s.stop();
    await Promise.all(stopped.map((s) => s.idle()));
    for (const d of slot.disposers.splice(0).reverse()) {
      try {
        await d();
      } catch (e) {
        log.error(`plugin ${slot.plugin.name}: a disposer failed: ${(e as Error)?.message ?? e}`);
      }
    }
  }

  const agent: Agent = {
    router,
    scheduler,
    config,
    log,
    clock,
    vsockPort,
    startedAt,
    get state() {
      return state;
    },
    get listeners() {
      return listeners;
    },
    async start() {
      if (started) return;
      started = true;
      router.freeze();
      for (const slot of slots) {
        if (!slot.plugin.start) {
          slot.started = true;
          continue;
        }
        try {
          slot.started = true;
          await withTimeout(Promise.resolve(slot.plugin.start(contextFor(slot))), opts.pluginStartTimeoutMs ?? 10_000, `start of plugin ${slot.plugin.name}`);
        } catch (e) {
          log.error(`plugin ${slot.plugin.name} failed to start: ${(e as Error)?.message ?? e}`);
          for (const s of [...slots].reverse()) await stopSlot(s);
          throw e;
        }
      }
      log.info(`started with plugins: ${slots.map((s) => s.plugin.name).join(", ")}`);
    },
    dispatch(body, o = {}) {
      return router.dispatch(body, {
        signal: o.signal,
        emit: o.onEvent,
        beginWork,
      });
    },
    call: (type, params) => router.call(type, params, { beginWork }),
    openSession(transport, kind) {
      if (stopping) return null;
      if (sessions.size >= maxConnections) {
        refusedLine.hit();
        return null;
      }
      if (sessions.size === 0) sessionHost.coarseNow = clock.monotonic();
      const s = new Session(
        sessionHost,
        transport,
        {
          kind,
          maxFrameBytes: config.maxFrameBytes,
          vsockPort,
          maxConcurrent: opts.maxConcurrentPerConnection,
        },
      );
      sessions.add(s);
      armSweep();
      return s;
    },
    addListener(l) {
      listeners.push(l);
    },
    connections: () => sessions.size,
    backpressure() {
      let backedUp = 0;
      let unsentBytes = 0;
      for (const s of sessions) {
        if (s.isBackedUp) backedUp++;
        unsentBytes += s.transport.unsent?.() ?? 0;
      }
      return { backedUp, unsentBytes };
    },
    workInFlight: () => work,
    plugins: slots.map((s) => s.plugin),
    async reload() {
      log.info("reload requested");
      for (const slot of slots) {
        if (!slot.started || !slot.plugin.reload) continue;
        try {
          await slot.plugin.reload();
        } catch (e) {
          log.error(`plugin ${slot.plugin.name} failed to reload: ${(e as Error)?.message ?? e}`);
        }
      }
      await emit("reload", {});
    },
    stop(o = {}) {
      if (stopping) return stopping;
      stopping = (async () => {
        if (sweepTimer) clock.clearTimeout(sweepTimer);
        sweepTimer = null;
        for (const l of listeners.splice(0)) {
          try {
            await l.close();
          } catch (e) {
            log.warn(`closing ${l.address}: ${(e as Error).message}`);
          }
        }
        const drainMs = o.drainMs ?? 5000;
        const drained = Promise.all([...sessions].map((s) => s.drain()));
        let t: TimerHandle | undefined;
        const late = await Promise.race([
          drained.then(() => false),
          new Promise<boolean>((r) => {
            t = clock.setTimeout(() => r(true), drainMs);
          }),
        ]);
        if (t) clock.clearTimeout(t);
        if (late) log.warn(`requests still in flight after ${drainMs} ms; cutting them`);
        for (const s of [...sessions]) {
          s.end();
          s.close();
        }
        for (const slot of [...slots].reverse()) await stopSlot(slot);
        log.info("stopped");
      })();
      return stopping;
    },
  };
  agentRef.current = agent;
  return agent;
}

export { AgentError };
export type { AgentEvents };
