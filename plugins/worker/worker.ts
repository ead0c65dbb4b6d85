// The worker plugin: samples the load average on a schedule, decides idle/busy, serves `worker-status`.

import { readAgentFile } from "../../agent/config.ts";
import { rfc3339 } from "../../agent/clock.ts";
import { defineRequests, type AgentPlugin, type PluginContext } from "../../agent/plugin.ts";
import type { Schedule } from "../../agent/scheduler.ts";
import { resolveWorkerConfig } from "./config.ts";
import { readLoadavg, type Loads } from "./loadavg.ts";
import { workerRequests, type WorkerConfig } from "./schemas.ts";
import { BusyState } from "./state.ts";

export interface WorkerOptions {
  /** Values from flags; they win over agent.json. */
  overrides?: Partial<WorkerConfig>;
}

const NO_LOADS = { load1: null, load5: null, load15: null };
type MaybeLoads = Loads | typeof NO_LOADS;

/**
 * Build the worker plugin. Settings come from `ctx.config.file.worker` (agent.json), then `overrides`.
 * @example createAgent({ plugins: [workerPlugin({ overrides: { loadavg_path: "/tmp/loadavg", idle_after_secs: 30 } })] });
 */
export function workerPlugin(opts: WorkerOptions = {}): AgentPlugin {
  const overrides = opts.overrides ?? {};
  let cfg: WorkerConfig;
  let state: BusyState;
  let loads: MaybeLoads = NO_LOADS;
  let sampledAt: number | null = null;
  let readError: string | null = null;
  let schedule: Schedule | null = null;

  const fmt = (n: number | null) => (n === null ? "unknown" : String(n));

  /** Read the load file; one console line when it starts or stops failing. */
  const readLoads = (c: PluginContext) => {
    const read = readLoadavg(cfg.loadavg_path);
    if (read.ok) {
      if (readError !== null) c.log.info(`${cfg.loadavg_path} is readable again`);
      readError = null;
      loads = read.loads;
    } else {
      if (readError !== read.error) c.log.warn(`cannot read ${cfg.loadavg_path}: ${read.error}; load reported as null, busy only from work in flight`);
      readError = read.error;
      loads = NO_LOADS;
    }
    sampledAt = c.clock.now();
  };

  /** Read the load, fold in work in flight, and move the state; one console line per change. */
  const sample = (c: PluginContext) => {
    readLoads(c);
    const work = c.workInFlight();
    const loadBusy = loads.load1 !== null && loads.load1 >= cfg.busy_threshold;
    const t = state.observe({ busy: loadBusy || work > 0, wall: c.clock.now(), mono: c.clock.monotonic(), idleAfterMs: cfg.idle_after_secs * 1000 });
    if (!t) return;
    const why =
      t.to === "busy"
        ? loadBusy
          ? `load1 ${fmt(loads.load1)} >= ${cfg.busy_threshold}`
          : `${work} request(s) marked as work in flight`
        : `load1 ${fmt(loads.load1)} < ${cfg.busy_threshold}${cfg.idle_after_secs > 0 ? ` for ${cfg.idle_after_secs}s` : ""}, no work in flight`;
    c.log.info(`${t.from} -> ${t.to} (${why})`);
  };

  /** Start over from one sample alone (start, wake): no hysteresis, no history. */
  const fresh = (c: PluginContext) => {
    readLoads(c);
    const busy = (loads.load1 !== null && loads.load1 >= cfg.busy_threshold) || c.workInFlight() > 0;
    return state.reset({ busy, wall: c.clock.now(), mono: c.clock.monotonic() });
  };

  const arm = (c: PluginContext) => {
    schedule?.stop();
    schedule = c.every(cfg.sample_interval_secs * 1000, () => sample(c), { name: "loadavg", runNow: false });
  };

  const result = () => ({
    status: state.status,
    ...loads,
    busy_threshold: cfg.busy_threshold,
    last_busy_at: state.lastBusyAt === null ? null : rfc3339(state.lastBusyAt),
    since: rfc3339(state.since),
  });

  return {
    name: "worker",
    requests: defineRequests(workerRequests, {
      "worker-status": (_p, req) => {
        sample(req.plugin);
        return result();
      },
    }),
    start(c) {
      cfg = resolveWorkerConfig(c.config.file, overrides, c.config.configDir, c.log);
      state = new BusyState(c.clock.now());
      loads = NO_LOADS;
      readError = null;
      const now = fresh(c);
      c.log.info(
        `busy when load1 >= ${cfg.busy_threshold}, idle after ${cfg.idle_after_secs}s below it, sampled every ${cfg.sample_interval_secs}s from ${cfg.loadavg_path}; now ${now} (load1 ${fmt(loads.load1)})`,
      );
      arm(c);
      c.on("wake", () => {
        const now = fresh(c);
        c.log.info(`wake: reset from a fresh sample: ${now} (load1 ${fmt(loads.load1)})`);
      });
      c.onDispose(() => {
        schedule = null;
      });
    },
    reload(c) {
      const file = c.config.readFile ? c.config.readFile() : readAgentFile(c.config.configDir, c.log);
      const next = resolveWorkerConfig(file, overrides, c.config.configDir, c.log);
      const changed = (Object.keys(next) as (keyof WorkerConfig)[]).filter((k) => next[k] !== cfg[k]);
      if (changed.length === 0) return;
      c.log.info(`settings changed: ${changed.map((k) => `${k} ${cfg[k]} -> ${next[k]}`).join(", ")}`);
      const rearm = next.sample_interval_secs !== cfg.sample_interval_secs;
      cfg = next;
      sample(c);
      if (rearm) arm(c);
    },
    status: (c) => {
      const quietMs = state.quietForMs(c.clock.monotonic());
      return {
        ...result(),
        work_in_flight: c.workInFlight(),
        idle_after_secs: cfg.idle_after_secs,
        sample_interval_secs: cfg.sample_interval_secs,
        loadavg_path: cfg.loadavg_path,
        sampled_at: sampledAt === null ? null : rfc3339(sampledAt),
        quiet_for_secs: quietMs === null ? null : quietMs / 1000,
        read_error: readError,
      };
    },
  };
}
