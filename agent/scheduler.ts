// ctx.every(): fixed-delay schedules on an injected clock, paused and resumed all at once (ctx.schedules).

import type { Clock, TimerHandle } from "./clock.ts";
import type { Logger } from "./log.ts";

export type Task = (signal: AbortSignal) => void | Promise<void>;

export interface ScheduleOptions {
  /** Shown in console lines about the task. */
  name?: string;
  /** Run as soon as the schedule is created (default true); else first after one interval. */
  runNow?: boolean;
}

/** One recurring task. The next run starts `intervalMs` after the previous one finished. */
export interface Schedule {
  readonly name: string;
  readonly intervalMs: number;
  /** A run is in progress. */
  readonly running: boolean;
  /**
   * Run now, unless a run is in progress, in which case wait for that one (never two at once).
   * The next timed run is counted from the end of this one.
   */
  trigger(): Promise<void>;
  /** Cancel for good: no more runs; an in-flight run is aborted. Idempotent. */
  stop(): void;
  /** Resolves when no run is in progress (after stop: when the aborted run has ended). */
  idle(): Promise<void>;
}

/** Figures a benchmark reads: how late timed runs started (ms). */
export interface SchedulerStats {
  runs: number;
  lateness: number[];
}

/**
 * Owns every schedule of the agent, so that the snapshot plugin can pause them all at once and
 * the core can cancel a plugin's schedules when it stops.
 */
export class Scheduler {
  private readonly all = new Set<ScheduleImpl>();
  private paused = false;
  readonly stats: SchedulerStats = { runs: 0, lateness: [] };
  recordLateness = false;

  constructor(readonly clock: Clock, readonly log: Logger) {}

  get isPaused(): boolean {
    return this.paused;
  }

  every(intervalMs: number, task: Task, opts: ScheduleOptions = {}): Schedule {
    if (!(intervalMs > 0)) throw new Error(`schedule interval must be > 0 ms, got ${intervalMs}`);
    const s = new ScheduleImpl(this, intervalMs, task, opts.name ?? "task", () => this.all.delete(s));
    this.all.add(s);
    if (!this.paused) s.arm(opts.runNow === false ? intervalMs : 0);
    return s;
  }

  /**
   * Stop firing timers; wait for runs in progress to finish. At `deadlineMs` (if given) their
   * AbortSignals fire (the runner then kills their process groups) and we wait for them to end.
   * Resolves with how many runs had to be aborted.
   */
  async pauseAll(deadlineMs?: number): Promise<{ aborted: number }> {
    this.paused = true;
    for (const s of this.all) s.disarm();
    const inflight = [...this.all].filter((s) => s.running);
    if (inflight.length === 0) return { aborted: 0 };
    const done = Promise.all(inflight.map((s) => s.idle()));
    if (deadlineMs === undefined) {
      await done;
      return { aborted: 0 };
    }
    let timer: TimerHandle | undefined;
    let aborted = 0;
    const deadline = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(() => {
        for (const s of inflight) if (s.running) (s.abort(), aborted++);
        resolve();
      }, Math.max(0, deadlineMs));
    });
    await Promise.race([done, deadline]);
    if (timer) this.clock.clearTimeout(timer);
    await done;
    return { aborted };
  }

  /** Resume timers; with `runNow`, every schedule runs at once, else after one interval. */
  resumeAll(opts: { runNow?: boolean } = {}): void {
    if (!this.paused) return;
    this.paused = false;
    for (const s of this.all) if (!s.running) s.arm(opts.runNow ? 0 : s.intervalMs);
  }

  /** Number of live schedules (a leak check). */
  get size(): number {
    return this.all.size;
  }

  /** Run promises of every schedule currently running (tests wait on these). */
  async idle(): Promise<void> {
    await Promise.all([...this.all].map((s) => s.idle()));
  }
}

class ScheduleImpl implements Schedule {
  private timer: TimerHandle | null = null;
  private dueAt = 0;
  private current: Promise<void> | null = null;
  private controller: AbortController | null = null;
  private stopped = false;

  constructor(
    private readonly owner: Scheduler,
    readonly intervalMs: number,
    private readonly task: Task,
    readonly name: string,
    private readonly onStop: () => void,
  ) {}

  get running(): boolean {
    return this.current !== null;
  }

  arm(delayMs: number): void {
    this.disarm();
    if (this.stopped || this.owner.isPaused) return;
    const clock = this.owner.clock;
    this.dueAt = clock.monotonic() + delayMs;
    this.timer = clock.setTimeout(() => {
      this.timer = null;
      if (this.owner.recordLateness) this.owner.stats.lateness.push(clock.monotonic() - this.dueAt);
      void this.run();
    }, delayMs);
  }

  disarm(): void {
    if (this.timer) this.owner.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  abort(): void {
    this.controller?.abort();
  }

  idle(): Promise<void> {
    return this.current ?? Promise.resolve();
  }

  trigger(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.current ?? this.run();
  }

  private run(): Promise<void> {
    this.disarm();
    const controller = new AbortController();
    this.controller = controller;
    this.owner.stats.runs++;
    const p = (async () => {
      try {
        await this.task(controller.signal);
      } catch (e) {
        this.owner.log.error(`scheduled task ${this.name} failed: ${(e as Error)?.stack ?? e}`);
      } finally {
        this.current = null;
        this.controller = null;
        this.arm(this.intervalMs);
      }
    })();
    this.current = p;
    return p;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.disarm();
    this.controller?.abort();
    this.onStop();
  }
}
