// The agent side of the snapshot loop: calls whose answers are checked against the plugins' schemas, and wake with retries.

import type { ResultOf } from "../../../agent/plugin.ts";
import { checkedCall, type AgentCall } from "../checked.ts";
import { ClientError } from "../errors.ts";


/**
 * Codes after which a wake is sent again: the agent is not reachable yet (a restored guest's socket or
 * vsock listener comes back), did not answer in time, or is busy. A wrong path, a file that is not a
 * socket or a permission problem will not fix itself: those are thrown at once.
 */
const RETRY = new Set(["E_SOCKET_MISSING", "E_CONNECTION_REFUSED", "E_HANDSHAKE", "E_VSOCK", "E_CLIENT_TIMEOUT", "E_CONNECTION_CLOSED", "E_BUSY", "E_UNAVAILABLE"]);
const retryable = (e: unknown): boolean => RETRY.has(String((e as { code?: unknown })?.code));

export interface WakeOptions {
  /** The host's wall clock in ms: sent as `wall_clock`, read again for every attempt. */
  now(): number;
  /** Deadline of one attempt. */
  callTimeoutMs: number;
  /** Give up after this long (attempts included). */
  deadlineMs: number;
  /** Wait between attempts (tests pass one that does not sleep). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * `wake` with the host's wall clock, sent again while the agent cannot be reached, does not answer in
 * time or is busy (a restored guest's agent takes a moment to answer on its socket again), until the
 * deadline. Any other error is thrown at once.
 * @example const { result, attempts } = await wakeAgent(call, { now: Date.now, callTimeoutMs: 5000, deadlineMs: 60_000 });
 */
export async function wakeAgent(call: AgentCall, o: WakeOptions): Promise<{ result: ResultOf<"wake">; attempts: number }> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const end = performance.now() + o.deadlineMs;
  let pause = 100;
  for (let attempts = 1; ; attempts++) {
    const left = end - performance.now();
    try {
      const result = await checkedCall(call, "wake", { wall_clock: new Date(o.now()).toISOString() }, Math.max(1, Math.min(o.callTimeoutMs, left)));
      return { result, attempts };
    } catch (e) {
      if (!retryable(e) || end - performance.now() <= pause) {
        const secs = o.deadlineMs >= 10_000 ? String(Math.round(o.deadlineMs / 1000)) : (o.deadlineMs / 1000).toFixed(1);
        if (e instanceof ClientError && attempts > 1) throw new ClientError(e.code, `${e.message} (after ${attempts} attempts in ${secs} s)`, e.data);
        throw e;
      }
      await sleep(pause);
      pause = Math.min(1000, pause * 2);
    }
  }
}

/** A wake answer in one line: `was sleeping; clock +2412 ms, set; restore:web ok`. */
export function wakeDetail(r: ResultOf<"wake">): string {
  const parts = [r.was_sleeping ? "was sleeping" : "was not sleeping"];
  if (r.clock_skew_ms !== null) parts.push(`clock ${r.clock_skew_ms >= 0 ? "+" : ""}${Math.round(r.clock_skew_ms)} ms, ${r.clock_set ? "set" : "not set"}`);
  for (const s of r.steps) if (s.name !== "clock") parts.push(`${s.name} ${s.ok ? "ok" : `FAILED (${s.detail})`}`);
  return parts.join("; ");
}

/** The restore:* steps of a wake that failed. */
export function failedRestores(r: ResultOf<"wake">): string[] {
  return r.steps.filter((s) => !s.ok && s.name.startsWith("restore:")).map((s) => s.name);
}
