// The idle/busy decision with hysteresis: busy at once, idle only after idle_after of quiet.

import type { WorkerStatusValue } from "./schemas.ts";

/** A change of status, for the console line. */
export interface Transition {
  from: WorkerStatusValue;
  to: WorkerStatusValue;
}

/** One observation: whether the guest looks busy now, and when (wall ms for stamps, monotonic ms for spans). */
export interface Observation {
  busy: boolean;
  wall: number;
  mono: number;
  idleAfterMs: number;
}

/**
 * Busy as soon as an observation is busy; back to idle only when every observation for
 * `idleAfterMs` (measured on the monotonic clock from the first quiet one) was quiet.
 * @example
 * const s = new BusyState(clock.now());
 * s.observe({ busy: true, wall: clock.now(), mono: clock.monotonic(), idleAfterMs: 30_000 }); // { from: "idle", to: "busy" }
 */
export class BusyState {
  status: WorkerStatusValue = "idle";
  /** Wall ms of the last status change (or of the start / reset). */
  since: number;
  /** Wall ms of the last busy observation; null if none since the start / reset. */
  lastBusyAt: number | null = null;
  /** Monotonic ms of the first quiet observation while busy. */
  private quietSince: number | null = null;

  constructor(now: number) {
    this.since = now;
  }

  observe(o: Observation): Transition | null {
    if (o.busy) {
      this.lastBusyAt = o.wall;
      this.quietSince = null;
      if (this.status === "busy") return null;
      this.status = "busy";
      this.since = o.wall;
      return { from: "idle", to: "busy" };
    }
    if (this.status === "idle") return null;
    if (this.quietSince === null) this.quietSince = o.mono;
    if (o.mono - this.quietSince < o.idleAfterMs) return null;
    this.status = "idle";
    this.since = o.wall;
    this.quietSince = null;
    return { from: "busy", to: "idle" };
  }

  /** Milliseconds the worker has been quiet while still reported busy (hysteresis running), else null. */
  quietForMs(mono: number): number | null {
    return this.quietSince === null ? null : mono - this.quietSince;
  }

  /** Forget everything (wake): the next observation alone decides, with no hysteresis carried over. */
  reset(o: Omit<Observation, "idleAfterMs">): WorkerStatusValue {
    this.status = o.busy ? "busy" : "idle";
    this.since = o.wall;
    this.lastBusyAt = o.busy ? o.wall : null;
    this.quietSince = null;
    return this.status;
  }
}
