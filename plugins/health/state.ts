// The state of one integration: thresholds, startup grace, pause, its wire entry and its console lines.

import { rfc3339, type Clock, type TimerHandle } from "../../agent/clock.ts";
import { DEFAULT_LOG_REPEAT_SECS, failureStreak, stillFailing, type Logger } from "../../agent/log.ts";
import { passText, type CheckOutcome } from "./check.ts";
import type { CheckResult, IntegrationEntry, IntegrationStatus } from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";

/**
 * Tracks one integration. The verdict moves to `healthy` after `success_threshold` passes in a
 * row and to `error` after `failure_threshold` failures in a row, and stays until the other
 * threshold is reached. Within the startup grace a missing or failing verdict shows as
 * `starting`; the first `healthy` verdict ends the grace. Console: every status change is one line;
 * outside the grace the first failure of a streak is one line, then at most one `still failing: N
 * times in a row since T` line per `repeatMs` (10 minutes by default), and a pass after a told failure
 * that changes no status is one line. Lines carry the integration's name as the field `integration`.
 * @example
 * const t = new IntegrationState(spec, clock, log);
 * t.record(judge(await ctx.runCommand(checkCommand(spec, signal)), 5000));
 * t.entry(); // { name, status: "healthy", ... }
 */
export class IntegrationState {
  private verdict: "none" | "healthy" | "error" = "none";
  private failures = 0;
  private passes = 0;
  private lastFailure = "";
  private last: CheckResult | null = null;
  private graceUntil = 0;
  private graceTimer: TimerHandle | null = null;
  private paused = false;
  private status: IntegrationStatus;
  private since: number;
  /** Checks recorded since the last reset (tests and benches read it). */
  checks = 0;
  private readonly streak: ReturnType<typeof failureStreak>;
  private readonly fields: { integration: string };

  constructor(
    readonly spec: IntegrationSpec,
    private readonly clock: Clock,
    private readonly log: Logger,
    opts: { repeatMs?: number } = {},
  ) {
    this.streak = failureStreak(opts.repeatMs ?? DEFAULT_LOG_REPEAT_SECS * 1000, () => clock.monotonic(), () => clock.now());
    this.fields = { integration: spec.name };
    this.startGrace();
    this.status = this.compute();
    this.since = clock.now();
  }

  /** Current status, re-evaluated (grace may have ended since the last event). */
  current(): IntegrationStatus {
    this.refresh();
    return this.status;
  }

  /** Counted as ready by the aggregate: healthy, or nothing to check. */
  ready(): boolean {
    const s = this.current();
    return s === "healthy" || s === "unchecked";
  }

  /** Record a finished check (cancelled checks must not reach here). */
  record(o: CheckOutcome): void {
    this.checks++;
    this.last = o.result;
    if (o.result.ok) {
      this.passes++;
      this.failures = 0;
      if (this.passes >= this.spec.success_threshold && this.verdict !== "healthy") {
        this.verdict = "healthy";
        this.endGrace();
      }
    } else {
      this.failures++;
      this.passes = 0;
      this.lastFailure = o.detail;
      if (this.failures >= this.spec.failure_threshold) this.verdict = "error";
    }
    const before = this.status;
    const changed = this.move();
    const fields = { ...this.fields, duration_ms: o.result.duration_ms };
    if (changed) {
      this.logChange(before, o.result.ok ? `(${passText(o.result)})` : `(${this.failureNote()})`, fields);
    } else if (!o.result.ok && !this.inGrace() && !this.paused) {
      const say = this.streak.fail();
      if (say === "first") this.log.warn(`${this.spec.name}: check failed: ${this.failureNote()}`, fields);
      else if (say === "repeat")
        this.log.warn(`${this.spec.name}: ${stillFailing(this.failures, this.streak.since(), this.clock.now())} (${this.lastFailure})`, fields);
    } else if (o.result.ok && this.streak.pass() && !this.paused) {
      const more = this.status === "healthy" ? "" : `; ${this.passes} of ${this.spec.success_threshold} passes before healthy`;
      this.log.info(`${this.spec.name}: check passed again (${passText(o.result)})${more}`, fields);
    }
  }

  /** Re-evaluate (the grace timer and queries call this); logs a change. */
  refresh(): void {
    const before = this.status;
    if (!this.move()) return;
    const why =
      before === "starting"
        ? this.status === "error"
          ? `(${this.failureNote()}; startup grace over)`
          : "(startup grace over; no verdict yet)"
        : "";
    this.logChange(before, why);
  }

  /** sleep-prep: report `paused` until `wake`. No line here; the plugin logs one for all. */
  pause(): void {
    this.paused = true;
    this.move();
  }

  /** wake: forget results from before the snapshot and start the grace again from now. */
  wake(): void {
    this.paused = false;
    this.streak.reset();
    this.verdict = "none";
    this.failures = 0;
    this.passes = 0;
    this.lastFailure = "";
    this.last = null;
    this.checks = 0;
    this.startGrace();
    this.move();
  }

  /** Release the grace timer. */
  dispose(): void {
    if (this.graceTimer) this.clock.clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  /** The wire entry of `health` and `health-check`. */
  entry(): IntegrationEntry {
    const status = this.current();
    return {
      name: this.spec.name,
      status,
      detail: this.detail(status),
      since: rfc3339(this.since),
      consecutive_failures: this.failures,
      last: this.last,
    };
  }

  private inGrace(): boolean {
    return this.clock.monotonic() < this.graceUntil;
  }

  private startGrace(): void {
    this.dispose();
    const ms = this.spec.health_cmd ? this.spec.startup_grace_secs * 1000 : 0;
    this.graceUntil = this.clock.monotonic() + ms;
    if (ms > 0) {
      this.graceTimer = this.clock.setTimeout(() => {
        this.graceTimer = null;
        this.refresh();
      }, ms);
    }
  }

  private endGrace(): void {
    this.dispose();
    this.graceUntil = 0;
  }

  private compute(): IntegrationStatus {
    if (this.paused) return "paused";
    if (!this.spec.health_cmd) return "unchecked";
    if (this.verdict === "healthy") return "healthy";
    if (this.inGrace()) return "starting";
    if (this.verdict === "error") return "error";
    return "pending";
  }

  /** Set the computed status; true when it changed. */
  private move(): boolean {
    const next = this.compute();
    if (next === this.status) return false;
    this.status = next;
    this.since = this.clock.now();
    return true;
  }

  private logChange(before: IntegrationStatus, why: string, fields: Record<string, unknown> = this.fields): void {
    if (before === "paused" || this.status === "paused") return;
    const line = `${this.spec.name}: ${before} -> ${this.status}${why ? ` ${why}` : ""}`;
    // A line that tells a failure starts (or goes on with) the streak: the next repeat is due from now.
    if (this.status === "error" || (this.last && !this.last.ok)) this.streak.told();
    else this.streak.reset();
    if (this.status === "error") this.log.warn(line, fields);
    else this.log.info(line, fields);
  }

  private failureNote(): string {
    const n = this.failures;
    return n > 1 ? `${this.lastFailure}; ${n} failures in a row` : this.lastFailure;
  }

  private detail(status: IntegrationStatus): string {
    const { success_threshold: needPasses, failure_threshold: needFailures } = this.spec;
    switch (status) {
      case "paused":
        return "paused for a snapshot (between sleep-prep and wake)";
      case "unchecked":
        return "no health_cmd: not checked, counted as ready";
      case "healthy":
        if (this.failures > 0) return `${this.failureNote()} (${this.failures} of ${needFailures} failures before error)`;
        return this.last ? `last check passed (${passText(this.last)})` : "healthy";
      case "error":
        if (this.passes > 0) return `${this.lastFailure} (${this.passes} of ${needPasses} passes before healthy)`;
        return this.failureNote();
      case "starting": {
        const left = Math.max(0, Math.ceil((this.graceUntil - this.clock.monotonic()) / 1000));
        const grace = `in startup grace (${left} s left)`;
        if (this.last === null) return `${grace}; waiting for the first check`;
        if (this.last.ok) return `${grace}; ${this.passes} of ${needPasses} passes before healthy`;
        return `${grace}; last check: ${this.lastFailure}`;
      }
      case "pending":
        if (this.last === null) return "waiting for the first check";
        if (this.last.ok) return `${this.passes} of ${needPasses} passes before healthy`;
        return `${this.failureNote()} (${this.failures} of ${needFailures} failures before error)`;
    }
  }
}
