// The snapshot plugin: sleep-prep (pause, checkpoint, sync, drop caches), wake (clock, restore, resume), the watchdog.
// Over 300 lines: sleep-prep, wake, the watchdog and the status section share one closure's state (busy, the snapshot state, the last answers, counters).

import { rfc3339, type TimerHandle } from "../../agent/clock.ts";
import { AgentError, describeError } from "../../agent/errors.ts";
import { defineRequests, type AgentPlugin, type PluginContext } from "../../agent/plugin.ts";
import { announce, logStep, NO_STEPS, round, runCommandSteps, stepSink, timedStep, wireStep, type CommandStep, type StepSink } from "./commands.ts";
import {
  DEFAULT_DRAIN_TIMEOUT_SECS,
  snapshotRequests,
  type SleepPrepResult,
  type SnapshotState,
  type SnapshotStatus,
  type Step,
  type WakeResult,
} from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";
import { gcDetail, type GcOutcome } from "./memory.ts";
import { DEFAULT_DROP_CACHES_PATH, defaultSys, dropCachesDetail, type SnapshotSys } from "./sys.ts";
import { clockPolicy, parseRfc3339, syncWallClock } from "./wallclock.ts";
import { watchdog, type Watchdog } from "./watchdog.ts";

export interface SnapshotOptions {
  /** Resume on our own after this much guest run time without a wake (0: never). Default 600. */
  resumeAfterSecs?: number;
  /** Default /proc/sys/vm/drop_caches. */
  dropCachesPath?: string;
  /**
   * On wake, set the guest's wall clock to the host's `wall_clock`: true or false force it; absent
   * (the default), only when the agent serves a vsock or serial listener (see `clockPolicy`).
   */
  setClock?: boolean;
  /** Replace system calls (tests: record order, simulate a refusal). */
  sys?: Partial<SnapshotSys>;
}

/** How long past the drain deadline we wait for aborted scheduled runs before going on without them. */
const PAUSE_GRACE_MS = 2000;
/** A sync through the `sync` binary gets at least this long, even past the drain deadline. */
const SYNC_MIN_MS = 5000;

type Op = "sleep-prep" | "wake";

type Reason = "wake" | "watchdog";

/**
 * sleep-prep and wake: this plugin owns the guest's snapshot state (running, preparing, sleeping),
 * shows it as the agent's state word, and pauses and resumes every schedule through the core.
 * @example createAgent({ plugins: [healthPlugin(...), snapshotPlugin({ resumeAfterSecs: 600 })] })
 */
export function snapshotPlugin(opts: SnapshotOptions = {}): AgentPlugin {
  const resumeAfterMs = (opts.resumeAfterSecs ?? 600) * 1000;
  const dropPath = opts.dropCachesPath ?? DEFAULT_DROP_CACHES_PATH;
  let sys: SnapshotSys | null = null;
  let stopper = new AbortController();
  let busy: Op | null = null;
  let state: SnapshotState = "running";
  let lastSleep: { at: string; result: SleepPrepResult } | null = null;
  const preps = { total: 0, failed: 0 }; // sleep-preps run since start (not repeated answers), and those not ready or failed
  let lastWake: { at: string; reason: Reason; result: WakeResult } | null = null;
  let timer: Watchdog | null = null;

  /** Move the snapshot state; the agent's state word (`status.state`) follows it. */
  const moveTo = (c: PluginContext, next: SnapshotState) => {
    state = next;
    c.setAgentState(next);
  };
  const alive = () => {
    if (stopper.signal.aborted) throw new AgentError("E_UNAVAILABLE", "the agent is stopping");
  };
  const busyError = (running: Op, asked: Op) =>
    new AgentError(
      "E_BUSY",
      running === asked
        ? `a ${running} is already in progress`
        : `a ${running} is in progress; send ${asked} again after it answers`,
      { in_progress: running },
    );

  async function fireWatchdog(c: PluginContext): Promise<void> {
    if (busy || state !== "sleeping" || stopper.signal.aborted) return;
    c.log.error(
      `WATCHDOG: no wake came within ${resumeAfterMs / 1000} s of guest run time after sleep-prep; ` +
        "assuming the host abandoned the snapshot: running restore commands and resuming every schedule",
    );
    busy = "wake";
    try {
      await resume(c, "watchdog", null, NO_STEPS);
    } catch (e) {
      c.log.error(`WATCHDOG: resuming failed: ${describeError(e)}`);
    } finally {
      busy = null;
    }
  }

  /** Pause every schedule; at the deadline in-flight runs are aborted (their process groups killed). */
  async function pauseWithin(c: PluginContext, ms: number): Promise<{ aborted: number; late: boolean }> {
    const deadline = Math.max(0, ms);
    let handle: TimerHandle | undefined;
    const late = new Promise<"late">((r) => {
      handle = c.clock.setTimeout(() => r("late"), deadline + PAUSE_GRACE_MS);
    });
    try {
      const r = await Promise.race([c.schedules.pauseAll(deadline), late]);
      return r === "late" ? { aborted: 0, late: true } : { aborted: r.aborted, late: false };
    } finally {
      if (handle) c.clock.clearTimeout(handle);
    }
  }

  /** The integrations now: [] without the health plugin, null (logged) when listing them failed. */
  function integrations(c: PluginContext, op: Op): IntegrationSpec[] | null {
    const service = c.service("integrations");
    if (!service) {
      c.log.info(`${op}: no integrations service (health plugin not loaded); no command to run`);
      return [];
    }
    try {
      return service.list();
    } catch (e) {
      c.log.error(`${op}: listing integrations failed: ${describeError(e)}; no command run`);
      return null;
    }
  }

  /** sleep-prep's work; each step is announced to `sink` as it starts and ends (a streaming call). */
  async function prepare(c: PluginContext, drainMs: number, sink: StepSink): Promise<SleepPrepResult> {
    const { clock, log } = c;
    const t0 = clock.monotonic();
    const at = clock.now();
    const left = () => t0 + drainMs - clock.monotonic();
    const anonBefore = sys!.anonymousKb();
    moveTo(c, "preparing");
    log.info(`sleep-prep: preparing under a drain deadline of ${drainMs / 1000} s`);
    try {
      await c.emit("sleep-prep", { at });
      const pause = await pauseWithin(c, left());
      if (pause.late) log.error(`sleep-prep: scheduled runs still going ${PAUSE_GRACE_MS} ms after the drain deadline; going on without them`);
      else log.info(`sleep-prep: schedules paused (${round(clock.monotonic() - t0)} ms${pause.aborted ? `; ${pause.aborted} run(s) killed at the drain deadline` : ""})`);
      alive();
      const list = integrations(c, "sleep-prep");
      // Without the list, critical checkpoints may have been skipped: never claim ready then.
      const listing: Step[] = list ? [] : [{ name: "checkpoints", ok: false, duration_ms: 0, detail: "listing integrations failed (see the console); no checkpoint ran" }];
      for (const s of listing) announce(sink, s);
      const checkpoints = await runCommandSteps("checkpoint", list ?? [], {
        run: c.runCommand,
        budgetMs: left,
        signal: stopper.signal,
        onStep: sink,
        mark: (s) => {
          if (!s.ok && s.integration.critical) s.detail += " (critical: sleep-prep is not ready)";
        },
      });
      for (const s of checkpoints) logStep(c, "sleep-prep", s, s.integration.critical);
      alive();
      const sync = await timedStep(c, "sync", () => sys!.sync({ timeoutMs: Math.max(left(), SYNC_MIN_MS) }), (e) => `failed: ${describeError(e)}`, sink);
      logStep(c, "sleep-prep", sync, true);
      alive();
      const drop = await timedStep(
        c,
        "drop-caches",
        async () => (await sys!.dropCaches(dropPath), `wrote 3 to ${dropPath}`),
        (e) => dropCachesDetail(e, dropPath),
        sink,
      );
      logStep(c, "sleep-prep", drop);
      // Last: the snapshot holds the agent's smallest heap (a full GC, its freed pages handed back).
      let gc: GcOutcome = { before_kb: null, after_kb: null };
      const gcStep = await timedStep(c, "gc", async () => gcDetail((gc = await sys!.collectGarbage())), (e) => `failed: ${describeError(e)}`, sink);
      logStep(c, "sleep-prep", gcStep);
      const blocking = checkpoints.filter((s: CommandStep) => !s.ok && s.integration.critical).map((s) => s.name);
      if (!list) blocking.push("checkpoints");
      if (!sync.ok) blocking.push("sync");
      const result: SleepPrepResult = {
        ready: blocking.length === 0,
        state: "sleeping",
        steps: [...listing, ...checkpoints.map(wireStep), sync, drop, gcStep],
        duration_ms: round(clock.monotonic() - t0),
        memory: { anonymous_kb_before: anonBefore, anonymous_kb_after: gc.after_kb },
      };
      moveTo(c, "sleeping");
      lastSleep = { at: rfc3339(at), result };
      timer?.arm();
      if (result.ready) log.info(`sleep-prep: ready in ${result.duration_ms} ms; sleeping until wake`, { type: "sleep-prep", duration_ms: result.duration_ms });
      else log.error(`sleep-prep: NOT READY in ${result.duration_ms} ms (${blocking.join(", ")} failed); sleeping until wake`, { type: "sleep-prep", duration_ms: result.duration_ms });
      return result;
    } catch (e) {
      if (stopper.signal.aborted) throw e;
      // A bug, not a refusal: do not leave the guest paused with its integrations checkpointed.
      log.error(`sleep-prep failed: ${describeError(e)}; resuming at once`);
      moveTo(c, "sleeping");
      await resume(c, "watchdog", null, NO_STEPS).catch((e2) => log.error(`resuming after the failure failed: ${describeError(e2)}`));
      throw e;
    }
  }

  /** wake's work (and the watchdog's); each step is announced to `sink` as it starts and ends. */
  async function resume(c: PluginContext, reason: Reason, hostMs: number | null, sink: StepSink): Promise<WakeResult> {
    const { clock, log } = c;
    const t0 = clock.monotonic();
    const at = clock.now();
    const steps: Step[] = [];
    let skew: number | null = null;
    let clockSet = false;
    let notSet: WakeResult["clock_not_set"] = "no_wall_clock";
    if (hostMs !== null) {
      const o = syncWallClock(hostMs, {
        guestNow: () => clock.now(),
        monotonic: () => clock.monotonic(),
        policy: clockPolicy(opts.setClock, c.config.transports),
        setWallClock: (ms) => sys!.setWallClock(ms),
      });
      skew = o.skewMs;
      clockSet = o.set;
      notSet = o.notSet;
      steps.push(o.step);
      announce(sink, o.step);
      logStep(c, "wake", o.step);
    }
    const wasSleeping = state === "sleeping";
    if (wasSleeping) {
      timer?.disarm();
      const restores = await runCommandSteps("restore", integrations(c, "wake") ?? [], { run: c.runCommand, signal: stopper.signal, onStep: sink });
      for (const s of restores) logStep(c, "wake", s);
      steps.push(...restores.map(wireStep));
      alive();
      await c.emit("wake", { at: clock.now(), reason });
      c.schedules.resumeAll({ runNow: true });
      moveTo(c, "running");
    }
    const result: WakeResult = {
      was_sleeping: wasSleeping,
      clock_skew_ms: skew,
      clock_set: clockSet,
      clock_not_set: notSet,
      steps,
      duration_ms: round(clock.monotonic() - t0),
    };
    lastWake = { at: rfc3339(at), reason, result };
    if (wasSleeping) log.info(`wake: running again in ${result.duration_ms} ms (${reason})`);
    else log.info("wake: not sleeping (no sleep-prep came before); no restore command run, nothing to resume");
    return result;
  }

  return {
    name: "snapshot",
    // Reads the health plugin's `integrations` service at sleep-prep and wake when it is loaded
    // (checkpoint and restore commands); without it there is simply no command to run.
    after: ["health"],
    requests: defineRequests(snapshotRequests, {
      "sleep-prep": async (p, req) => {
        const c = req.plugin;
        if (busy) throw busyError(busy, "sleep-prep");
        if (state === "sleeping" && lastSleep) {
          timer?.arm();
          c.log.info(`sleep-prep: already sleeping since ${lastSleep.at}; answering again${timer?.armed ? " (watchdog restarted)" : ""}`);
          return lastSleep.result;
        }
        busy = "sleep-prep";
        preps.total++;
        let ready = false;
        try {
          const r = await prepare(c, (p.drain_timeout_secs ?? DEFAULT_DRAIN_TIMEOUT_SECS) * 1000, stepSink(p.stream, req.emit));
          ready = r.ready;
          return r;
        } finally {
          if (!ready) preps.failed++;
          busy = null;
        }
      },
      wake: async (p, req) => {
        const c = req.plugin;
        let hostMs: number | null = null;
        if (p.wall_clock !== undefined) {
          hostMs = parseRfc3339(p.wall_clock);
          if (hostMs === null) {
            const message = "expected an RFC 3339 date-time such as 2026-11-28T10:57:19.123Z";
            throw new AgentError("E_INVALID_PARAMS", `invalid params for "wake": /wall_clock ${message}`, [{ path: "/wall_clock", message }]);
          }
        }
        if (busy) throw busyError(busy, "wake");
        busy = "wake";
        try {
          return await resume(c, "wake", hostMs, stepSink(p.stream, req.emit));
        } finally {
          busy = null;
        }
      },
    }),
    start(c) {
      state = "running";
      timer = watchdog(c.clock, resumeAfterMs, () => void fireWatchdog(c));
      stopper = new AbortController();
      sys = { ...defaultSys(c.runCommand), ...opts.sys };
      c.provide("snapshot", {
        get state() {
          return state;
        },
        checkpoint: (list, o) => runCommandSteps("checkpoint", list, { run: c.runCommand, signal: o?.signal }),
      });
    },
    stop(c) {
      timer?.disarm();
      stopper.abort();
      if (state !== "running") c.log.warn(`stopping while ${state}: restore commands were not run`);
    },
    status(c): SnapshotStatus {
      const left = timer?.leftMs() ?? null;
      return {
        state,
        busy,
        last_sleep_prep: lastSleep,
        last_wake: lastWake,
        sleep_preps_total: preps.total, sleep_prep_failures_total: preps.failed,
        watchdog: {
          resume_after_secs: resumeAfterMs / 1000,
          armed: left !== null,
          fires_in_secs: left === null ? null : Math.round(left / 100) / 10,
        },
      };
    },
  };
}
