// The watchdog timer: one shot on the agent's monotonic clock (guest run time), re-armed by each sleep-prep.

import type { Clock, TimerHandle } from "../../agent/clock.ts";

export interface Watchdog {
  /** (Re)start the countdown; does nothing when the watchdog is off (0 ms). */
  arm(): void;
  disarm(): void;
  readonly armed: boolean;
  /** Milliseconds left, or null when not armed. */
  leftMs(): number | null;
}

/**
 * A one-shot timer that calls `fire` after `afterMs` of the clock's monotonic time, which counts only
 * the time the guest ran (a snapshot restored later does not advance it).
 * @example const w = watchdog(ctx.clock, 600_000, () => resume("watchdog")); w.arm();
 */
export function watchdog(clock: Clock, afterMs: number, fire: () => void): Watchdog {
  let t: { handle: TimerHandle; dueAt: number } | null = null;
  const disarm = () => {
    if (t) clock.clearTimeout(t.handle);
    t = null;
  };
  return {
    arm() {
      disarm();
      if (afterMs <= 0) return;
      const handle = clock.setTimeout(() => {
        t = null;
        fire();
      }, afterMs);
      t = { handle, dueAt: clock.monotonic() + afterMs };
    },
    disarm,
    get armed() {
      return t !== null;
    },
    leftMs: () => (t ? Math.max(0, t.dueAt - clock.monotonic()) : null),
  };
}
