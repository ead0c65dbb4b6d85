// Test support for the snapshot plugin: a fake integrations service, a ticking schedule, an agent on a ManualClock.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createAgent, type Agent } from "../../agent/agent.ts";
import { ManualClock } from "../../agent/clock.ts";
import { memoryLogger } from "../../agent/log.ts";
import type { AgentPlugin, PluginContext } from "../../agent/plugin.ts";
import type { Answer } from "../../agent/wire.ts";
import { tempDir } from "../../agent/testing.ts";
import type { IntegrationSpec } from "./service.ts";
import { snapshotPlugin, type SnapshotOptions } from "./snapshot.ts";

/**
 * An integration with the health plugin's file defaults, then `over`. plugins/fakes.test.ts checks
 * these defaults against the health plugin's own schema, so the fake cannot drift from it.
 */
export function integration(name: string, over: Partial<IntegrationSpec> = {}): IntegrationSpec {
  return {
    name,
    health_interval_secs: 30,
    health_timeout_secs: 10,
    startup_grace_secs: 0,
    failure_threshold: 3,
    success_threshold: 1,
    checkpoint_timeout_secs: 30,
    critical: false,
    ...over,
  };
}

export interface Seen {
  event: "sleep-prep" | "wake";
  reason?: string;
  /** Were the schedules paused when the event came? */
  paused: boolean;
  state: string;
  /** Whatever the test's `probe` returned at that moment. */
  probe?: unknown;
}

/**
 * Stands in for the health plugin: offers `integrations`, records the events it hears, and runs one
 * schedule (`tick`) whose task is `task` (default: count).
 */
export function fakeHealth(
  list: IntegrationSpec[],
  agent: () => Agent,
  task?: (signal: AbortSignal, ctx: PluginContext) => Promise<void>,
  probe?: () => unknown,
) {
  const seen: Seen[] = [];
  const state = { ticks: 0, seen, list };
  const plugin: AgentPlugin = {
    name: "fake-health",
    start(ctx) {
      ctx.provide("integrations", { list: () => state.list });
      ctx.on("sleep-prep", () => void seen.push({ event: "sleep-prep", paused: agent().scheduler.isPaused, state: agent().state, probe: probe?.() }));
      ctx.on("wake", (p) => void seen.push({ event: "wake", reason: p.reason, paused: agent().scheduler.isPaused, state: agent().state, probe: probe?.() }));
      ctx.every(1000, async (signal) => {
        state.ticks++;
        await task?.(signal, ctx);
      }, { name: "tick" });
    },
  };
  return { plugin, state };
}

export interface Harness {
  agent: Agent;
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  dir: string;
  health: ReturnType<typeof fakeHealth>["state"];
  /** Dispatch a request; resolves with the whole answer. */
  send(type: string, params?: unknown): Promise<Answer>;
  /** The result of a request that must succeed. */
  ok<T = any>(type: string, params?: unknown): Promise<T>;
  /** Text of a file in the temp dir, or "" when it does not exist. */
  file(name: string): string;
  close(): Promise<void>;
}

/** An agent on a ManualClock with the fake health plugin and the snapshot plugin, drop_caches in a temp dir. */
export async function harness(
  o: {
    /** Integrations, given the temp dir (commands write marker files there). */
    integrations?: (dir: string) => IntegrationSpec[];
    snapshot?: SnapshotOptions | ((dir: string) => SnapshotOptions);
    /** The scheduled task of the fake health plugin, given the temp dir. */
    task?: (dir: string) => Parameters<typeof fakeHealth>[2];
    probe?: (dir: string) => unknown;
  } = {},
): Promise<Harness> {
  const d = tempDir("mvm-snapshot-");
  const clock = new ManualClock();
  const log = memoryLogger();
  const ref: { agent?: Agent } = {};
  const health = fakeHealth(o.integrations?.(d.path) ?? [], () => ref.agent!, o.task?.(d.path), o.probe && (() => o.probe!(d.path)));
  const extra = typeof o.snapshot === "function" ? o.snapshot(d.path) : o.snapshot;
  const snapshot = snapshotPlugin({ dropCachesPath: join(d.path, "drop_caches"), ...extra, sys: extra?.sys ?? { sync: async () => "test sync" } });
  const agent = createAgent({ plugins: [health.plugin, snapshot], clock, log });
  ref.agent = agent;
  await agent.start();
  await clock.advance(0);
  const send = (type: string, params?: unknown) => agent.dispatch(params === undefined ? { type } : { type, params });
  return {
    agent,
    clock,
    log,
    dir: d.path,
    health: health.state,
    send,
    async ok(type, params) {
      const a = await send(type, params);
      if (!a.ok) throw new Error(`${type} failed: ${JSON.stringify(a.error)}`);
      return a.result as any;
    },
    file: (name) => (existsSync(join(d.path, name)) ? readFileSync(join(d.path, name), "utf8") : ""),
    async close() {
      await agent.stop({ drainMs: 0 });
      d.cleanup();
    },
  };
}

/** The pid a command wrote to a file in the temp dir, once it is there. */
export function pidIn(h: Harness, name: string): number {
  return Number(h.file(name).trim());
}
