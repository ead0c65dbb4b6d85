// The health plugin: integrations.d loaded and watched, one schedule per integration, requests and status.

import { skipFields, watchDir, type DropinProblem } from "../../agent/config.ts";
import { listedSkipped } from "../../agent/config-file.ts";
import { AgentError } from "../../agent/errors.ts";
import { defineRequests, type AgentPlugin, type PluginContext } from "../../agent/plugin.ts";
import type { Schedule } from "../../agent/scheduler.ts";
import { checkCommand, judge } from "./check.ts";
import { Limit } from "./limit.ts";
import { integrationsDir, loadIntegrations, planReload, type LoadedIntegration } from "./loader.ts";
import { fitOutputs } from "./fit.ts";
import { healthRequests, type HealthStatusSection, type IntegrationEntry } from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";
import { IntegrationState } from "./state.ts";

export interface HealthOptions {
  /** The agent's config dir; integrations are read from `<configDir>/integrations.d`. */
  configDir: string;
  /** Checks running at once, over all integrations (default 8). */
  maxConcurrentChecks?: number;
  /** Reload when the directory changes (default true). SIGHUP reloads either way. */
  watch?: boolean;
  /** A failing check is told again at most once per this many seconds (default: the agent's `--log-repeat-secs`, else 600). */
  logRepeatSecs?: number;
}

/** One integration that is loaded now. */
interface Live {
  loaded: LoadedIntegration;
  state: IntegrationState;
  /** Null for integrations without health_cmd. */
  schedule: Schedule | null;
  /** Set when a reload removed or replaced it: late results are dropped. */
  retired: boolean;
}

/**
 * Health checks of the guest's services (`integrations.d/*.json`).
 * @example
 * const agent = createAgent({ plugins: [healthPlugin({ configDir: "/etc/mvm", maxConcurrentChecks: 8 })] });
 * await agent.start();
 * await agent.call("health"); // { integrations: [...], ready: true }
 */
export function healthPlugin(opts: HealthOptions): AgentPlugin {
  const dir = integrationsDir(opts.configDir);
  const limit = new Limit(opts.maxConcurrentChecks ?? 8);
  let live = new Map<string, Live>();
  /** Checks run and failed per integration name since the agent started: kept across reloads and wakes (counters never go back). */
  const counters = new Map<string, { checks: number; failures: number }>();
  /** Files the latest load skipped (and why): in the answer, and they make the VM not ready. */
  let skipped: DropinProblem[] = [];
  const inflight = new Set<Promise<void>>();
  /** Bumped at sleep-prep and wake: a check started before either is not recorded. */
  let epoch = 0;
  let paused = false;
  let stopped = false;
  let missingSaid = false;
  let reloads: Promise<void> = Promise.resolve();

  async function check(c: PluginContext, x: Live, signal: AbortSignal): Promise<void> {
    const started = epoch;
    if (paused || x.retired) return;
    let release: () => void;
    try {
      release = await limit.acquire(signal);
    } catch {
      return; // cancelled while waiting for a slot
    }
    try {
      if (paused || x.retired || signal.aborted || started !== epoch) return;
      const spec = x.loaded.spec;
      const outcome = judge(await c.runCommand(checkCommand(spec, signal)), spec.health_timeout_secs * 1000);
      if (outcome.cancelled || x.retired || paused || started !== epoch) return;
      x.state.record(outcome);
      const n = counters.get(spec.name) ?? { checks: 0, failures: 0 };
      n.checks++;
      if (!outcome.result.ok) n.failures++;
      counters.set(spec.name, n);
    } finally {
      release();
    }
  }

  function begin(c: PluginContext, loaded: LoadedIntegration): Live {
    const repeat = opts.logRepeatSecs ?? c.config.logRepeatSecs;
    const state = new IntegrationState(loaded.spec, c.clock, c.log, repeat === undefined ? {} : { repeatMs: repeat * 1000 });
    const x: Live = { loaded, state, schedule: null, retired: false };
    if (paused) state.pause();
    if (loaded.spec.health_cmd) {
      x.schedule = c.every(
        loaded.spec.health_interval_secs * 1000,
        (signal) => {
          const p = check(c, x, signal);
          inflight.add(p);
          return p.finally(() => inflight.delete(p));
        },
        { name: `check:${loaded.spec.name}` },
      );
    }
    return x;
  }

  function retire(x: Live): void {
    x.retired = true;
    x.schedule?.stop();
    x.state.dispose();
  }

  /** Load (first call) or reload the directory and apply the difference. */
  function apply(c: PluginContext, first: boolean): void {
    if (stopped) return;
    const log = c.log;
    const next = loadIntegrations(dir, { root: opts.configDir, files: c.config.files });
    const current = new Map([...live].map(([n, x]) => [n, x.loaded]));
    const plan = planReload(current, next);
    const keptByFile = new Map(plan.kept.map((k) => [k.file, k.name]));
    skipped = next.skipped;
    for (const s of next.skipped) {
      const kept = keptByFile.get(s.file);
      log.warn(`${s.file}: skipped: ${s.message}${kept ? `; keeping the last good version of "${kept}"` : ""}`, skipFields(s.file, s.message));
    }
    if (next.missing) {
      if (!missingSaid) log.info(`${dir}: no such directory; no integrations`);
      missingSaid = true;
    } else missingSaid = false;

    const nextLive = new Map<string, Live>();
    const order = [...next.loaded.values(), ...plan.kept.map((k) => live.get(k.name)!.loaded)];
    order.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const changed = new Set(plan.changed.map((c) => c.spec.name));
    for (const l of order) {
      const name = l.spec.name;
      const old = live.get(name);
      if (old && !changed.has(name)) {
        old.loaded = plan.kept.some((k) => k.name === name) ? old.loaded : l;
        nextLive.set(name, old);
        continue;
      }
      if (old) retire(old);
      nextLive.set(name, begin(c, l));
    }
    for (const name of plan.removed) {
      retire(live.get(name)!);
      counters.delete(name);
    }
    live = nextLive;

    if (first) {
      if (!next.missing) {
        const skipped = next.skipped.length ? ` (${next.skipped.length} file(s) skipped)` : "";
        log.info(`loaded ${live.size} integration(s) from ${dir}${skipped}`);
      }
      return;
    }
    for (const l of plan.added) log.info(`${l.spec.name}: added (${l.file})`);
    for (const l of plan.changed) log.info(`${l.spec.name}: changed (${l.file}); state reset, checks restart`);
    for (const name of plan.removed) log.info(`${name}: removed (its file is gone)`);
  }

  function reload(c: PluginContext): Promise<void> {
    reloads = reloads.then(() => apply(c, false)).catch((e) => c.log.error(`reload failed: ${(e as Error)?.stack ?? e}`));
    return reloads;
  }

  function find(name: string): Live {
    const x = live.get(name);
    if (!x) throw new AgentError("E_NOT_FOUND", `no integration named "${name}" (loaded: ${[...live.keys()].join(", ") || "none"})`);
    return x;
  }

  function entry(x: Live): IntegrationEntry {
    const n = counters.get(x.loaded.spec.name);
    return { ...x.state.entry(), checks_total: n?.checks ?? 0, failures_total: n?.failures ?? 0 };
  }

  function entries(): IntegrationEntry[] {
    return [...live.values()].map(entry);
  }

  return {
    name: "health",
    requests: defineRequests(healthRequests, {
      health: (_p, rctx) => {
        const list = entries();
        // A file that could not be loaded is a service the host cannot see: not ready.
        const ready = skipped.length === 0 && list.every((e) => e.status === "healthy" || e.status === "unchecked");
        return { integrations: fitOutputs(list, rctx.maxFrameBytes), ready, skipped_files: listedSkipped(skipped) };
      },
      "health-check": async ({ name }) => {
        const x = find(name);
        if (paused) throw new AgentError("E_BUSY", `integrations are paused for a snapshot; send wake first`);
        if (x.schedule) await x.schedule.trigger();
        return entry(x);
      },
    }),
    start(c) {
      stopped = false;
      c.provide("integrations", { list: (): IntegrationSpec[] => [...live.values()].map((x) => x.loaded.spec) });
      c.on("sleep-prep", () => {
        paused = true;
        epoch++;
        for (const x of live.values()) x.state.pause();
        c.log.info(`paused ${live.size} integration(s) for a snapshot`);
      });
      c.on("wake", () => {
        paused = false;
        epoch++;
        for (const x of live.values()) x.state.wake();
        c.log.info(`wake: ${live.size} integration(s) start over (startup grace from now, earlier results cleared)`);
      });
      apply(c, true);
      if (opts.watch !== false) c.onDispose(watchDir(dir, () => void reload(c)));
    },
    async stop() {
      stopped = true;
      for (const x of live.values()) retire(x);
      await Promise.allSettled([...inflight]);
      await reloads;
    },
    reload,
    status(): HealthStatusSection {
      const s: HealthStatusSection = {
        integrations: live.size,
        healthy: 0,
        starting: 0,
        error: 0,
        pending: 0,
        unchecked: 0,
        paused: 0,
        ready: skipped.length === 0,
        skipped_files: skipped.length,
        checks_total: 0,
        failures_total: 0,
      };
      for (const n of counters.values()) {
        s.checks_total! += n.checks;
        s.failures_total! += n.failures;
      }
      for (const x of live.values()) {
        const st = x.state.current();
        s[st]++;
        if (st !== "healthy" && st !== "unchecked") s.ready = false;
      }
      return s;
    },
  };
}
