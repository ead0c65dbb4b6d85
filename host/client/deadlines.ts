// How long the host waits for a call: the work its request declares (registry metadata), plus the ordinary call deadline.

import { deadlineSecs } from "../../agent/requests.ts";
import { BUNDLED_REQUESTS, bundledRequest, type BundledRequestName } from "../../plugins/requests.ts";

/**
 * The deadline of one call in ms: the seconds its request's declaration says the work may take (the
 * value of its deadline param, else that param's schema default, else its `timeoutSecs`) plus
 * `callMs` for connecting and the answer. Undefined for a request that declares no bound (ping,
 * status, a custom request the host has no declaration of): the caller's own deadline applies.
 * @example callDeadlineMs("sleep-prep", {}, 5000) // 35000: SleepPrepParams' default drain of 30 s, plus 5 s
 */
export function callDeadlineMs(type: string, params: unknown, callMs: number): number | undefined {
  const decl = bundledRequest(type);
  const secs = decl ? deadlineSecs(decl, params) : undefined;
  return secs === undefined ? undefined : Math.round(secs * 1000) + callMs;
}

/**
 * The schema `maximum` and `default` of a bundled request's numeric param: a flag's cap and default
 * are read here, never restated beside the schema.
 * @example paramLimits("sleep-prep", "drain_timeout_secs") // { maximum: 3600, default: 30 }
 */
export function paramLimits(type: BundledRequestName, param: string): { maximum?: number; default?: number } {
  const field = (BUNDLED_REQUESTS[type].params as { properties?: Record<string, { maximum?: unknown; default?: unknown }> }).properties?.[param];
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const maximum = num(field?.maximum);
  const dflt = num(field?.default);
  return { ...(maximum !== undefined ? { maximum } : {}), ...(dflt !== undefined ? { default: dflt } : {}) };
}
