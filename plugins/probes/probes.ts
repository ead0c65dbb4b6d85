// The loaded probes: probes.d loading and reload, one schedule per probe, latest results and staleness.

import { loadDropins, type DropinLoad, type DropinProblem } from "../../agent/config.ts";
import { listedSkipped, type ConfigFiles } from "../../agent/config-file.ts";
import { DEFAULT_LOG_REPEAT_SECS, failureStreak, stillFailing, type Logger } from "../../agent/log.ts";
import { rfc3339 } from "../../agent/clock.ts";
import { AgentError } from "../../agent/errors.ts";
import type { PluginContext } from "../../agent/plugin.ts";
import type { Schedule } from "../../agent/scheduler.ts";
import { consoleLine, runProbe, type ProbeRun } from "./run.ts";
import { PROBE_FORMAT, type ProbeFile, type ProbeResult } from "./schemas.ts";

interface ProbeState {
  spec: ProbeFile;
  file: string;
  text: string;
  /** Monotonic ms when loaded (a probe with no result yet goes stale from here). */
  loadedAt: number;
  schedule: Schedule;
  last: ProbeRun | null;
  /** The last result was taken before the latest wake: history, not a reading. */
  beforeWake: boolean;
  /** Removed or replaced by a reload: a run still in flight must not record. */
  gone: boolean;
  /** The console story of its failures (told at the start, then at most once per --log-repeat-secs). */
  streak: ReturnType<typeof failureStreak>;
  /** Failed runs in a row (for the console's count). */
  failuresInARow: number;
}

/** Runs and failed runs of one probe name since the agent started (kept across reloads and wakes). */
interface ProbeCounters {
  runs: number;
  failures: number;
}

/** Read every probe file of `dir` (the `cmd` alias mapped); never throws. The plugin and `config check` share it. */
export function loadProbes(dir: string, log: Logger, files?: ConfigFiles): DropinLoad<ProbeFile> {
  return loadDropins({ dir, nameOf: (p) => p.name, log, files, ...PROBE_FORMAT });
}

/** The `status` section of the probes plugin. */
export interface ProbesStatus {
  dir: string;
  loaded: number;
  ok: number;
  failing: number;
  not_run: number;
  stale: number;
  skipped_files: DropinProblem[];
  /** Runs finished since the agent started, over the probes loaded now. */
  runs_total: number;
  /** Of those, the failed ones. */
  failures_total: number;
}

/**
 * Every probe of `<config-dir>/probes.d`, each on its own schedule (`ctx.every`): first run right
 * after load, the next `interval_secs` after the previous one finished.
 * @example const set = new ProbeSet(ctx, "/etc/mvm/probes.d"); set.load(); set.results();
 */
export class ProbeSet {
  private readonly probes = new Map<string, ProbeState>();
  private readonly counters = new Map<string, ProbeCounters>();
  private skipped: DropinProblem[] = [];
  /** Runs in progress, so that close() can wait for their process groups to be gone. */
  private readonly inflight = new Set<Promise<void>>();
  private saidMissing = false;
  private closed = false;

  constructor(
    private readonly ctx: PluginContext,
    readonly dir: string,
  ) {}

  /**
   * (Re)load the directory. Unchanged probes keep their result and schedule; changed ones restart
   * with no result; removed ones stop (a run in flight is killed). Never throws.
   */
  load(): void {
    if (this.closed) return;
    const { log } = this.ctx;
    const res = loadProbes(this.dir, log, this.ctx.config.files);
    const dirProblem = res.skipped.find((s) => s.file === this.dir);
    if (dirProblem) {
      // An unreadable directory is not an empty one: keep what runs now.
      log.warn(`${this.dir}: ${dirProblem.message}; keeping the ${this.probes.size} probe(s) loaded before`);
      this.skipped = res.skipped;
      return;
    }
    if (res.missing) {
      if (!this.saidMissing) log.info(`${this.dir}: no such directory; no probes`);
      this.saidMissing = true;
    } else this.saidMissing = false;
    this.skipped = res.skipped;

    for (const [name, st] of this.probes) {
      if (!res.entries.has(name)) {
        this.retire(st);
        this.probes.delete(name);
        this.counters.delete(name);
        log.info(`probe ${name} removed`, { probe: name });
      }
    }
    const next = new Map<string, ProbeState>();
    for (const [name, entry] of res.entries) {
      const old = this.probes.get(name);
      if (old && old.text === entry.text) {
        old.file = entry.file;
        next.set(name, old);
        continue;
      }
      if (old) {
        this.retire(old);
        log.info(`probe ${name} changed (${entry.file}); restarting it`, { probe: name, file: entry.file });
      } else log.info(`probe ${name} loaded from ${entry.file} (every ${entry.value.interval_secs}s)`, { probe: name, file: entry.file });
      next.set(name, this.start(entry.value, entry.file, entry.text));
    }
    this.probes.clear();
    for (const [k, v] of next) this.probes.set(k, v);
    if (!res.missing) log.info(`${this.dir}: ${this.probes.size} probe(s) loaded${res.skipped.length ? `, ${res.skipped.length} file(s) skipped` : ""}`);
  }

  private start(spec: ProbeFile, file: string, text: string): ProbeState {
    const { ctx } = this;
    const repeatMs = (ctx.config.logRepeatSecs ?? DEFAULT_LOG_REPEAT_SECS) * 1000;
    const streak = failureStreak(repeatMs, () => ctx.clock.monotonic(), () => ctx.clock.now());
    const st = { spec, file, text, loadedAt: ctx.clock.monotonic(), last: null, beforeWake: false, gone: false, streak, failuresInARow: 0 } as Omit<ProbeState, "schedule"> as ProbeState;
    st.schedule = ctx.every(
      spec.interval_secs * 1000,
      (signal) => {
        const p = this.runOnce(st, signal).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
        return p;
      },
      { name: `probe ${spec.name}` },
    );
    return st;
  }

  private retire(st: ProbeState): void {
    st.gone = true;
    st.schedule.stop();
  }

  private async runOnce(st: ProbeState, signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    const out = await runProbe(ctx.runCommand, st.spec, signal, () => [ctx.clock.now(), ctx.clock.monotonic()]);
    if (st.gone || out.kind === "cancelled") {
      ctx.log.debug(`probe ${st.spec.name}: run cancelled; result not recorded`);
      return;
    }
    st.last = out.run;
    st.beforeWake = false;
    const name = st.spec.name;
    const n = this.counters.get(name) ?? { runs: 0, failures: 0 };
    n.runs++;
    if (!out.run.ok) n.failures++;
    this.counters.set(name, n);
    // Values are debug (one line per run would flood the console); failures are told when they start,
    // then at most once per --log-repeat-secs with a count, and the recovery once.
    const fields = { probe: name, duration_ms: out.run.duration_ms };
    const line = consoleLine(name, st.spec.unit, out.run);
    if (out.run.ok) {
      const was = st.failuresInARow;
      st.failuresInARow = 0;
      if (st.streak.pass()) ctx.log.info(`${line} (ok again after ${was} failure${was === 1 ? "" : "s"} in a row)`, fields);
      else ctx.log.debug(line, fields);
      return;
    }
    st.failuresInARow++;
    const say = st.streak.fail();
    if (say === "first") ctx.log.warn(line, fields);
    else if (say === "repeat") ctx.log.warn(`probe ${name} ${stillFailing(st.failuresInARow, st.streak.since(), ctx.clock.now())} (${out.run.detail ?? "unknown"})`, fields);
    else ctx.log.debug(line, fields);
  }

  /** The wire result of one probe, with `stale` computed now. */
  private resultOf(st: ProbeState): ProbeResult {
    const { spec, last } = st;
    const age = this.ctx.clock.monotonic() - (last ? last.mono : st.loadedAt);
    const stale = (last !== null && st.beforeWake) || age > 2 * spec.interval_secs * 1000;
    const n = this.counters.get(spec.name);
    return {
      name: spec.name,
      ok: last ? last.ok : null,
      value: last ? last.value : null,
      output: last ? last.output : null,
      unit: spec.unit ?? null,
      detail: last ? last.detail : null,
      exit_code: last ? last.exit_code : null,
      timed_out: last ? last.timed_out : false,
      duration_ms: last ? last.duration_ms : null,
      checked_at: last ? rfc3339(last.at) : null,
      stale,
      runs_total: n?.runs ?? 0,
      failures_total: n?.failures ?? 0,
    };
  }

  /** Every loaded probe, in file-name order. */
  results(): ProbeResult[] {
    return [...this.probes.values()].map((st) => this.resultOf(st));
  }

  /** Run one probe now (or wait for its run in flight) and return its result; E_BUSY between sleep-prep and wake. */
  async runNow(name: string): Promise<ProbeResult> {
    const st = this.probes.get(name);
    if (!st) {
      const names = [...this.probes.keys()];
      throw new AgentError("E_NOT_FOUND", `no probe named "${name}" (loaded: ${names.length ? names.join(", ") : "none"})`);
    }
    const state = this.ctx.agentState;
    if (state !== "running") {
      // A command started now would run into the snapshot (or be frozen in it).
      throw new AgentError("E_BUSY", `probes are paused for a snapshot (lifecycle ${state}); send wake first`, { state });
    }
    await st.schedule.trigger();
    const now = this.probes.get(name);
    if (!now) throw new AgentError("E_NOT_FOUND", `probe "${name}" was removed while it ran`);
    return this.resultOf(now);
  }

  /**
   * The guest was restored from a snapshot (or the snapshot was abandoned): results taken before
   * are kept as history but reported stale, and every probe runs at once.
   */
  wake(): void {
    if (this.closed) return;
    for (const st of this.probes.values()) {
      if (st.last) st.beforeWake = true;
      st.streak.reset();
      void st.schedule.trigger();
    }
  }

  /** Stop every probe, kill runs in flight and wait until they have ended (the plugin's stop). */
  async close(): Promise<void> {
    this.closed = true;
    for (const st of this.probes.values()) this.retire(st);
    this.probes.clear();
    await Promise.all([...this.inflight]);
  }

  /** Files the latest load skipped, and why (the `probes` answer and the status section list them). */
  skippedFiles(): DropinProblem[] {
    return this.skipped;
  }

  status(): ProbesStatus {
    const rs = this.results();
    return {
      dir: this.dir,
      loaded: rs.length,
      ok: rs.filter((r) => r.ok === true).length,
      failing: rs.filter((r) => r.ok === false).length,
      not_run: rs.filter((r) => r.ok === null).length,
      stale: rs.filter((r) => r.stale).length,
      skipped_files: listedSkipped(this.skipped),
      runs_total: rs.reduce((a, r) => a + (r.runs_total ?? 0), 0),
      failures_total: rs.reduce((a, r) => a + (r.failures_total ?? 0), 0),
    };
  }
}
