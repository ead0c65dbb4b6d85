// Time for everything that schedules: the real clock, and a manual clock tests advance by hand.

export type TimerHandle = { readonly id: number };

/** What the agent needs of time. Schedulers and timeouts take one; tests pass a ManualClock. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (for RFC 3339 stamps). */
  now(): number;
  /** Monotonic milliseconds (for durations and schedules). */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

let nextId = 1;

/** The process clock: Date.now, performance.now and real timers. */
export function systemClock(): Clock {
  const timers = new Map<number, ReturnType<typeof setTimeout>>();
  return {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id);
          fn();
        }, Math.max(0, ms)),
      );
      return { id };
    },
    clearTimeout(handle) {
      const t = timers.get(handle.id);
      if (t !== undefined) clearTimeout(t);
      timers.delete(handle.id);
    },
  };
}

/**
 * A clock that moves only when told: nothing fires until a test calls `advance`.
 *
 * - **The first scheduled run.** `ctx.every(ms, task)` arms its first run with a delay of 0 (unless
 *   `runNow: false`, then `ms`). On a ManualClock that run is due at once but happens only at the
 *   next `advance`: call `await clock.advance(0)` after `agent.start()` to get it. Forgetting this
 *   is why a test waits for a first result that never comes. The testkit's `createTestAgent` does it
 *   for you (its `firstRuns` option): when it resolves, every first run has happened.
 * - **What `advance(ms)` does.** It fires every timer due within the next `ms`, in due order (ties in
 *   the order they were set), moving `monotonic()` and `now()` to each timer's due time before it
 *   fires, and lets promise callbacks and I/O callbacks settle (a few event-loop turns) before and
 *   after each one. A task that finishes within those turns is re-armed (fixed delay: the next run
 *   is `ms` after it ended) and, if due within the window, fires in the same `advance`. At the end
 *   the clock is exactly `ms` later, whatever fired.
 * - **Work that waits on the outside world** (a child process, a socket) is not finished by
 *   `advance`: wait for its effect with `waitFor`, then advance again. The agent's timeouts
 *   (command deadlines, plugin start, the drain on stop) are on the same clock, so they fire only
 *   when advanced past.
 * - `now()` starts at `startWallMs` (2026-01-01T00:00:00Z by default); `monotonic()` starts at 0.
 *   `pending()` counts armed timers: 0 after `agent.stop()` means nothing was left behind.
 * @example
 * const clock = new ManualClock();
 * const agent = createAgent({ plugins: [probesPlugin({ dir })], clock });
 * await agent.start();
 * await clock.advance(0);      // the first run of every schedule
 * await clock.advance(60_000); // one interval later: the second run
 */
export class ManualClock implements Clock {
  private t: number;
  private readonly wallOffset: number;
  private readonly timers = new Map<number, { at: number; fn: () => void; seq: number }>();
  private seq = 0;

  constructor(startWallMs = Date.parse("2026-01-01T00:00:00Z")) {
    this.t = 0;
    this.wallOffset = startWallMs;
  }

  now(): number {
    return this.wallOffset + this.t;
  }

  monotonic(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn, seq: this.seq++ });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Number of timers waiting (a leak check for tests). */
  pending(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, firing every timer that comes due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let nextKey: number | undefined;
      let next: { at: number; fn: () => void; seq: number } | undefined;
      for (const [k, v] of this.timers) {
        if (v.at <= end && (!next || v.at < next.at || (v.at === next.at && v.seq < next.seq))) {
          next = v;
          nextKey = k;
        }
      }
      if (!next || nextKey === undefined) break;
      this.timers.delete(nextKey);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

/** Let pending promise callbacks and I/O callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** RFC 3339 UTC with milliseconds. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
