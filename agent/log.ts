// Console logging: one human-readable line per event on stderr, or JSON lines (--log-format json).
// Control characters never reach the console raw: text lines escape them, JSON lines carry them as \u escapes.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/** A logger scoped to a component ("core", a plugin name). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The same sink under another component name. */
  child(component: string): Logger;
  /**
   * Whether a line at `level` would be written; hot paths ask before building a line. Absent (a
   * logger of a test's own): assume it would.
   */
  enabled?(level: LogLevel): boolean;
}

export type LogSink = (line: string) => void;

export interface LoggerOptions {
  format?: "text" | "json";
  level?: LogLevel;
  sink?: LogSink;
  now?: () => number;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * C0 controls, DEL, C1 controls (8-bit CSI included), the Unicode line and paragraph separators, and
 * the bidi controls (U+061C, U+200E/F, U+202A-E, U+2066-9), which reorder how a line is shown.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]/;
const CONTROL_ALL = new RegExp(CONTROL.source, "g");
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\u001b": "\\e" };
const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, "0");

/**
 * Text with every control character shown as an escape (`\n`, `\r`, `\t`, `\e` for ESC, `\xHH` for
 * other C0 and DEL, `\uHHHH` for C1, U+2028/2029 and the bidi controls), so that a client's id, a file
 * name or a command's output can neither start a new console line, nor drive the terminal, nor reorder
 * what is shown. Text without one is returned as is. The one escaping of console text: the host's
 * `printable` and mvmctl's human output use it too.
 * @example escapeControl("evil\n\u001b[31mERROR") // "evil\\n\\e[31mERROR"
 */
export function escapeControl(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROL_ALL, (c) => SHORT[c] ?? (c <= "\u007f" ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/** JSON.stringify escapes C0 only: the rest (DEL, C1, U+2028/2029, bidi) become \u escapes too, the same JSON value. */
const JSON_EXTRA = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]/g;
function safeJson(line: string): string {
  return line.replace(JSON_EXTRA, (c) => `\\u${hex(c, 4)}`);
}

/** The message already holds this value: a string as is, a number as a whole word. */
function said(msg: string, v: unknown): boolean {
  if (typeof v === "string") return v !== "" && msg.includes(v);
  if (typeof v === "number" && Number.isFinite(v)) return new RegExp(`(^|[^0-9.])${String(v).replace(".", "\\.")}([^0-9.]|$)`).test(msg);
  return false;
}

function fieldText(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? escapeControl(JSON.stringify(v)) : escapeControl(v);
  return escapeControl(JSON.stringify(v) ?? String(v));
}

/**
 * Build a logger. Text lines look like
 * `2026-11-28T10:57:19.123Z INFO  health my-service: starting -> healthy (exit 0, 12 ms)`, followed by
 * ` key=value` for each field the sentence does not already hold (a string field whose value is in
 * the message, or a number that is a word of it, is not repeated). JSON lines carry every field as a key:
 * `{"time":...,"level":"info","component":"health","msg":"my-service: starting -> healthy ...","integration":"my-service"}`.
 * @example const log = createLogger({ format: "json" }).child("health");
 */
export function createLogger(opts: LoggerOptions = {}, component = "core"): Logger {
  const format = opts.format ?? "text";
  const min = ORDER[opts.level ?? "info"];
  const sink = opts.sink ?? ((line: string) => process.stderr.write(line + "\n"));
  const now = opts.now ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const time = new Date(now()).toISOString();
    if (format === "json") {
      sink(safeJson(JSON.stringify({ time, level, component, msg, ...fields })));
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${escapeControl(component)} ${escapeControl(msg)}`;
    // A field the sentence already says (the file, the integration's name, "12 ms") is not said twice.
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined && !said(msg, v)) line += ` ${escapeControl(k)}=${fieldText(v)}`;
    sink(line);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (c) => createLogger({ ...opts, format, sink, now }, c),
    enabled: (level) => ORDER[level] >= min,
  };
}

/**
 * At most one console line per `intervalMs` for an event that a client can repeat at will (refused
 * connections): the first is logged at once, the rest are counted and reported by the next line or
 * by `flush()` (call it from a periodic timer), so a flood costs one line a second.
 * @example const refused = throttledLine(1000, () => clock.monotonic(), (n) => log.warn(`refused ${n} connection(s)`));
 */
export function throttledLine(intervalMs: number, now: () => number, line: (count: number) => void): { hit(n?: number): void; flush(): void } {
  let pending = 0;
  let last = -Infinity;
  const out = () => {
    last = now();
    const n = pending;
    pending = 0;
    line(n);
  };
  return {
    hit(n = 1) {
      pending += n;
      if (now() - last >= intervalMs) out();
    },
    flush() {
      if (pending && now() - last >= intervalMs) out();
    },
  };
}

/** How often a failure that goes on is told again, by default (`--log-repeat-secs`): ten minutes. */
export const DEFAULT_LOG_REPEAT_SECS = 600;

/**
 * The console story of something checked again and again (a health check, a probe): its first failure
 * is told at once, then at most one line per `repeatMs` while it goes on, each with how many failures
 * in a row and since when (`stillFailing`); the caller tells the recovery. `now` is monotonic.
 * @example
 * const streak = failureStreak(600_000, () => clock.monotonic(), () => clock.now());
 * const say = streak.fail(); // "first" | "repeat" | "quiet"
 * if (say === "repeat") log.warn(`web: ${stillFailing(n, streak.since())}`);
 */
export function failureStreak(repeatMs: number, now: () => number, wall: () => number) {
  let failing = false;
  let since = 0;
  let told = -Infinity;
  return {
    /** One more failure: tell it (`first`), tell the count (`repeat`), or say nothing (`quiet`). */
    fail(): "first" | "repeat" | "quiet" {
      if (!failing) {
        failing = true;
        since = wall();
        told = now();
        return "first";
      }
      if (now() - told < repeatMs) return "quiet";
      told = now();
      return "repeat";
    },
    /** The caller told this failure itself (a change of state): the next repeat waits `repeatMs` from now. */
    told(): void {
      if (!failing) since = wall();
      failing = true;
      told = now();
    },
    /** A pass: true when a failure of this streak was told (so the recovery is worth a line). */
    pass(): boolean {
      const was = failing;
      failing = false;
      return was;
    },
    /** Forget the streak without a line (wake, reload). */
    reset(): void {
      failing = false;
    },
    /** Wall-clock ms of the streak's first failure. */
    since: () => since,
  };
}

/** `still failing: 37 times in a row since 10:02:05Z` (the time in UTC, the day when it is not today). */
export function stillFailing(count: number, sinceMs: number, nowMs: number = Date.now()): string {
  const iso = new Date(sinceMs).toISOString();
  const sameDay = iso.slice(0, 10) === new Date(nowMs).toISOString().slice(0, 10);
  return `still failing: ${count} time${count === 1 ? "" : "s"} in a row since ${sameDay ? `${iso.slice(11, 19)}Z` : `${iso.slice(0, 19)}Z`}`;
}

/** A logger that keeps its lines in memory (tests read `lines`). */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level, sink: (l) => lines.push(l) });
  return Object.assign(log, { lines });
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ sink: () => {} });
