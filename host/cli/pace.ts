// Waiting between polls on an injectable clock: a sleep that Ctrl-C cuts short, and a capped backoff.

import { systemClock, type Clock } from "../../agent/clock.ts";
import type { CliIO } from "./io.ts";

/** The clock a command waits on: io's (tests inject a ManualClock), else the system's. */
export function clockOf(io: CliIO): Clock {
  return io.clock ?? systemClock();
}

/**
 * Wait `ms` on `clock`, or less when `signal` aborts; resolves true when the time passed, false when
 * aborted. The timer and the listener are released either way.
 * @example if (!(await sleepOn(clock, 2000, io.signal))) return EXIT.OK; // Ctrl-C
 */
export function sleepOn(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (passed: boolean) => {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(passed);
    };
    const onAbort = () => done(false);
    const timer = clock.setTimeout(() => done(true), Math.max(0, ms));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The wait before poll number `attempt` (0-based): `first`, doubling up to `max`.
 * @example backoff(0) // 100; backoff(3) // 800; backoff(10) // 2000
 */
export function backoff(attempt: number, first = 100, max = 2000): number {
  return Math.min(max, first * 2 ** Math.min(attempt, 30));
}

/**
 * Settle `work` or stop at `signal`: Ctrl-C need not wait for a call in flight (the command's
 * clients are closed when it returns, which ends the call). Resolves `{ aborted: true }` then.
 */
export async function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<{ aborted: true } | { aborted: false; value: T }> {
  if (signal.aborted) {
    work.catch(() => {});
    return { aborted: true };
  }
  let onAbort!: () => void;
  const stopped = new Promise<{ aborted: true }>((r) => {
    onAbort = () => r({ aborted: true });
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work.then((value) => ({ aborted: false as const, value })), stopped]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    work.catch(() => {});
  }
}
