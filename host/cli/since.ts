// Times for `mvmctl logs`: `--since` (a duration back from now, or an RFC 3339 time) and the time a console line carries.

import { FlagError } from "../../agent/argv.ts";

/** Longest look back --since accepts: ten years. */
export const MAX_SINCE_MS = 10 * 365 * 86_400_000;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(?:\d{1,9}(?:\.\d{1,6})?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h|d|w)/g;
/** RFC 3339 date-time with a zone (the form wake's wall_clock takes), at most nanoseconds. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds of an RFC 3339 time (fractions past ms dropped), or null when it is not one or not a real date. */
export function rfc3339Ms(text: string): number | null {
  if (!RFC3339.test(text)) return null;
  // Date.parse rounds nothing away we need, but wants a `T` and at most milliseconds.
  const norm = text.replace(" ", "T").replace(/(\.\d{3})\d+/, "$1");
  const ms = Date.parse(norm);
  if (Number.isNaN(ms)) return null;
  // Reject dates Date.parse rolled over (2026-02-31).
  const [y, mo, d] = text.slice(0, 10).split("-").map(Number);
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(text);
  const local = new Date(ms + (offset ? (offset[1] === "+" ? 1 : -1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000 : 0));
  if (local.getUTCFullYear() !== y || local.getUTCMonth() + 1 !== mo || local.getUTCDate() !== d) return null;
  return ms;
}

/**
 * The cutoff of `--since`: a duration back from `nowMs` (`90s`, `10m`, `1h30m`, `2d`, `500ms`; units
 * ms s m h d w, combined largest first or not) or an RFC 3339 time (`2026-11-28T10:00:00Z`,
 * `...+02:00`). Throws a FlagError for anything else: no unit (`10`), a sign, a time in the future,
 * more than ten years back, text over 64 characters (what the user typed is escaped in the message).
 * @example parseSince("10m", Date.parse("2026-11-28T10:00:00Z")) // Date.parse("2026-11-28T09:50:00Z")
 */
export function parseSince(text: string, nowMs: number): number {
  const t = text.trim();
  const bad = (why: string) => new FlagError(`logs: --since ${JSON.stringify(text.slice(0, 64))}: ${why}`);
  if (t === "" || t.length > 64) throw bad("expected a duration such as 10m, 1h30m, 45s, or an RFC 3339 time such as 2026-11-28T10:00:00Z");
  if (/^\d+(\.\d+)?$/.test(t)) throw bad(`a duration needs a unit: ${t}s, ${t}m or ${t}h`);
  if (DURATION.test(t)) {
    let ms = 0;
    for (const m of t.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    if (ms > MAX_SINCE_MS) throw bad("more than ten years back");
    return nowMs - ms;
  }
  const at = rfc3339Ms(t);
  if (at === null) throw bad("expected a duration such as 10m, 1h30m, 45s, or an RFC 3339 time such as 2026-11-28T10:00:00Z");
  if (at > nowMs) throw bad("is in the future");
  if (nowMs - at > MAX_SINCE_MS) throw bad("more than ten years back");
  return at;
}

/** A stamp at the start of a line: `2026-11-28T10:00:00.123Z ...`, `[2026-11-28 10:00:00+02:00] ...`, `<6>2026-...`. */
const LEADING = /^(?:<\d{1,3}>)?\[?(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2}))/;
/** A JSON log line's time field (the agent's --log-format json writes `"time"`). */
const JSON_TIME = /"(?:time|timestamp|ts)"\s*:\s*"([^"]{10,40})"/;

/**
 * The wall time a console line says it was written at: an RFC 3339 time at its start (the agent's
 * text log lines, most loggers), or the `time` of a JSON log line; null when it carries none
 * (kernel lines carry seconds since boot, which are not a wall time).
 * @example lineTime("2026-11-28T10:00:00.000Z INFO  core listening") // 1795860000000
 */
export function lineTime(line: string): number | null {
  const m = LEADING.exec(line) ?? (line.startsWith("{") ? JSON_TIME.exec(line) : null);
  return m ? rfc3339Ms(m[1]!) : null;
}

/** The stamp `--timestamps` puts before a line (UTC, milliseconds), or a dash of the same width when its time is not known. */
export function stampText(ms: number | null): string {
  return ms === null ? "-".padEnd(24) : new Date(ms).toISOString();
}

/**
 * Each line with its time: its own stamp, else that of the last earlier line that had one (a
 * multi-line message), else null (nothing before it said).
 */
export function timedLines(lines: readonly string[]): { line: string; at: number | null }[] {
  let last: number | null = null;
  return lines.map((line) => {
    last = lineTime(line) ?? last;
    return { line, at: last };
  });
}
