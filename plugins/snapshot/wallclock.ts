// Wake's step 0: read the host's wall_clock, report the guest's skew, set the guest's clock when allowed.

import { rfc3339 } from "../../agent/clock.ts";
import type { ClockNotSet, Step } from "./schemas.ts";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Milliseconds since the epoch of an RFC 3339 date-time, or null when it is not one (also for
 * impossible dates such as February 30th).
 * @example parseRfc3339("2026-11-28T10:57:19.5+01:00") // Date.UTC(2026, 10, 28, 9, 57, 19, 500)
 */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return null;
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return null;
  let offsetMin = 0;
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const frac = m[7] ? Number(m[7]) * 1000 : 0;
  return Date.UTC(y, mo - 1, d, h, mi, s) + frac - offsetMin * 60_000;
}

/** `1234 ms behind the host`, `56 ms ahead of the host`, `in step with the host`. */
export function describeSkew(skewMs: number): string {
  if (skewMs > 0) return `${skewMs} ms behind the host`;
  if (skewMs < 0) return `${-skewMs} ms ahead of the host`;
  return "in step with the host";
}

export interface ClockOutcome {
  skewMs: number;
  set: boolean;
  /** Why not set (null: set). */
  notSet: Exclude<ClockNotSet, "no_wall_clock"> | null;
  step: Step;
}

/** Whether wake may set the clock, and the reason when not. */
export interface ClockPolicy {
  allowed: boolean;
  /** When not allowed: why, for the answer and the step's detail. */
  why?: { code: "not_in_vm" | "no_set_clock"; text: string };
}

/**
 * `--set-clock`/`--no-set-clock` when given; otherwise set the clock only when the agent serves a
 * vsock or serial listener (it is in a VM): with unix sockets alone it shares the clock of a host
 * or a container's host, which a guest's wake must not move.
 * @example clockPolicy(undefined, ["unix"]) // { allowed: false, why: { code: "not_in_vm", ... } }
 */
export function clockPolicy(setClock: boolean | undefined, transports: readonly string[] | undefined): ClockPolicy {
  if (setClock === true) return { allowed: true };
  if (setClock === false) return { allowed: false, why: { code: "no_set_clock", text: "--no-set-clock" } };
  if ((transports ?? []).some((t) => t === "vsock" || t === "serial")) return { allowed: true };
  return {
    allowed: false,
    why: { code: "not_in_vm", text: "the agent serves no vsock or serial listener, so it is not in a VM and shares its host's clock; --set-clock sets it anyway" },
  };
}

/**
 * Compare the host's time with the guest's and, when `allowed`, set the guest's wall clock.
 * `setWallClock` answers null on success or an errno name; a refusal is reported, not thrown.
 */
export function syncWallClock(
  hostMs: number,
  o: { guestNow: () => number; monotonic: () => number; policy: ClockPolicy; setWallClock(ms: number): string | null },
): ClockOutcome {
  const t0 = o.monotonic();
  const skewMs = Math.round(hostMs - o.guestNow());
  const was = describeSkew(skewMs);
  const done = (ok: boolean, notSet: ClockOutcome["notSet"], detail: string): ClockOutcome => ({
    skewMs,
    set: notSet === null,
    notSet,
    step: { name: "clock", ok, duration_ms: Math.round((o.monotonic() - t0) * 100) / 100, detail },
  });
  if (!o.policy.allowed) {
    const why = o.policy.why ?? { code: "no_set_clock" as const, text: "not allowed" };
    return done(true, why.code, `not set (${why.text}); the guest is ${was}`);
  }
  let err: string | null;
  try {
    err = o.setWallClock(hostMs);
  } catch (e) {
    err = (e as Error).message;
  }
  if (err === null) return done(true, null, `set to ${rfc3339(hostMs)}; the guest was ${was}`);
  const why = err === "EPERM" ? "not permitted (EPERM): setting the clock needs root or CAP_SYS_TIME" : `clock_settime failed: ${err}`;
  return done(false, "failed", `${why}; the guest stays ${was}`);
}
