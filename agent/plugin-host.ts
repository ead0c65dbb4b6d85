// The plugins of one agent: registration checks, a context per plugin, ordered start and reverse stop,
// reload, status sections, and the release of everything a plugin registered.

import type { Clock, TimerHandle } from "./clock.ts";
import { runCommand } from "./command.ts";
import type { EventBus } from "./events.ts";
import type { Logger } from "./log.ts";
import { startOrder } from "./needs.ts";
import type { AgentConfig, AgentPlugin, AgentServices, CallOptions, PluginContext, TypedCall } from "./plugin.ts";
import { RegistrationError } from "./errors.ts";
import type { RequestOwner, Router } from "./router.ts";
import type { Schedule, Scheduler } from "./scheduler.ts";
import { AGENT_STATE_PATTERN } from "./wire.ts";
import type { WorkCounter } from "./work.ts";

const STATE_WORD = new RegExp(AGENT_STATE_PATTERN);

export interface PluginHostDeps {
  clock: Clock;
  log: Logger;
  config: AgentConfig;
  router: Router;
  scheduler: Scheduler;
  events: EventBus;
  work: WorkCounter;
  /** How long one plugin's start may take. */
  startTimeoutMs: number;
}

/** One plugin, its context, and what it registered through it (released on stop). */
class Slot implements RequestOwner {
  readonly schedules = new Set<Schedule>();
  readonly disposers: (() => void | Promise<void>)[] = [];
  /** From the start of its start to the start of its stop: requests reach it only then. */
  started = false;
  ctx!: PluginContext;

  constructor(readonly plugin: AgentPlugin) {}

  get name(): string {
    return this.plugin.name;
  }

  get context(): PluginContext | undefined {
    return this.started ? this.ctx : undefined;
  }
}

/**
 * Holds the plugins: checks names and needs at construction (a coded RegistrationError), registers
 * their requests and dialects with the router, starts them in the order their needs give (see
 * `startOrder`) under a timeout (a failure stops the ones already started), and stops them in
 * reverse, releasing their schedules and disposers after each plugin's own stop.
 * @example
 * const host = new PluginHost([core, health], deps);
 * await host.start();
 * await host.stop();
 */
export class PluginHost {
  private readonly slots: Slot[] = [];
  private readonly services = new Map<string, unknown>();
  private word = "running";

  constructor(plugins: readonly AgentPlugin[], private readonly d: PluginHostDeps) {
    const names = new Set<string>();
    for (const plugin of plugins) {
      if (names.has(plugin.name)) throw new RegistrationError("E_DUPLICATE_PLUGIN", `plugin "${plugin.name}" is listed twice`);
      names.add(plugin.name);
    }
    const slots = new Map<AgentPlugin, Slot>();
    // Requests and dialects in list order (dialects are offered a body in that order); slots in start order.
    for (const plugin of plugins) {
      const slot = new Slot(plugin);
      slot.ctx = this.contextFor(slot);
      for (const [type, spec] of Object.entries(plugin.requests ?? {})) d.router.register(slot, type, spec);
      for (const dialect of plugin.dialects ?? []) d.router.addDialect(slot, dialect);
      slots.set(plugin, slot);
    }
    for (const plugin of startOrder(plugins)) this.slots.push(slots.get(plugin)!);
  }

  /** Every plugin, in start order (the core first). */
  get plugins(): AgentPlugin[] {
    return this.slots.map((s) => s.plugin);
  }

  /** The agent's state word (`status.state`): `running` unless a plugin set another. */
  get state(): string {
    return this.word;
  }

  /** Start every plugin in order; on a failure, stop those already started (reverse) and throw. */
  async start(): Promise<void> {
    const { log } = this.d;
    for (const slot of this.slots) {
      if (!slot.plugin.start) {
        slot.started = true;
        continue;
      }
      try {
        slot.started = true;
        await this.withTimeout(Promise.resolve(slot.plugin.start(slot.ctx)), `start of plugin ${slot.plugin.name}`);
      } catch (e) {
        log.error(`plugin ${slot.plugin.name} failed to start: ${(e as Error)?.message ?? e}`);
        await this.stop();
        throw e;
      }
    }
    log.info(`started with plugins: ${this.slots.map((s) => s.plugin.name).join(", ")}`);
  }

  /** Stop every started plugin, last first. */
  async stop(): Promise<void> {
    for (const slot of [...this.slots].reverse()) await this.stopSlot(slot);
  }

  /** SIGHUP: every started plugin with a reload re-reads its files, then the `reload` event. */
  async reload(): Promise<void> {
    for (const slot of this.slots) {
      if (!slot.started || !slot.plugin.reload) continue;
      try {
        await slot.plugin.reload(slot.ctx);
      } catch (e) {
        this.d.log.error(`plugin ${slot.plugin.name} failed to reload: ${(e as Error)?.message ?? e}`);
      }
    }
    await this.d.events.emit("reload", {});
  }

  /** One section per running plugin with a `status` hook; a hook that throws gets an error section. */
  statusSections(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const slot of this.slots) {
      if (!slot.started || !slot.plugin.status) continue;
      try {
        out[slot.name] = slot.plugin.status(slot.ctx) ?? null;
      } catch (e) {
        this.d.log.error(`status of plugin ${slot.name} failed: ${(e as Error)?.message ?? e}`);
        out[slot.name] = { error: "status unavailable" };
      }
    }
    return out;
  }

  private async stopSlot(slot: Slot): Promise<void> {
    if (!slot.started) return;
    // From here on requests are answered E_UNAVAILABLE by the core; the plugin's own stop still has its context.
    slot.started = false;
    const { log } = this.d;
    try {
      await slot.plugin.stop?.(slot.ctx);
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

  private async withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
    const { clock, startTimeoutMs: ms } = this.d;
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

  private contextFor(slot: Slot): PluginContext {
    const { clock, config, log, router, scheduler, events, work } = this.d;
    const name = slot.plugin.name;
    const plog = log.child(name);
    const host = this;
    return {
      name,
      log: plog,
      clock,
      config,
      every(intervalMs, task, o) {
        const s = scheduler.every(intervalMs, task, { ...o, name: `${name}/${o?.name ?? "task"}` });
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
      beginWork: work.begin,
      workInFlight: () => work.count,
      get agentState() {
        return host.word;
      },
      setAgentState(word) {
        if (typeof word !== "string" || !STATE_WORD.test(word)) throw new TypeError(`plugin ${name}: agent state ${JSON.stringify(word)} does not match ${AGENT_STATE_PATTERN}`);
        if (word !== host.word) plog.info(`agent state: ${host.word} -> ${word}`);
        host.word = word;
      },
      schedules: {
        pauseAll: (deadlineMs) => scheduler.pauseAll(deadlineMs),
        resumeAll: (o) => scheduler.resumeAll(o),
        get paused() {
          return scheduler.isPaused;
        },
      },
      provide: (key, service) => {
        if (this.services.has(key as string))
          throw new RegistrationError("E_DUPLICATE_SERVICE", `plugin "${name}" provides service "${String(key)}", which another plugin provides already`);
        this.services.set(key as string, service);
        slot.disposers.push(() => void this.services.delete(key as string));
      },
      service: <K extends keyof AgentServices>(key: K) => this.services.get(key as string) as AgentServices[K] | undefined,
      on(event, fn) {
        const off = events.on(event, fn);
        slot.disposers.push(off);
        return off;
      },
      emit: (event, payload) => events.emit(event, payload),
      call: ((type: string, params?: unknown, o?: CallOptions) =>
        router.call(type, params, { beginWork: work.begin, signal: o?.signal })) as TypedCall,
    };
  }
}
