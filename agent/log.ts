// Console logging: one human-readable line per event on stderr, or JSON lines (--log-format json).

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
}

export type LogSink = (line: string) => void;

export interface LoggerOptions {
  format?: "text" | "json";
  level?: LogLevel;
  sink?: LogSink;
  now?: () => number;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function fieldText(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/**
 * Build a logger. Text lines look like
 * `2026-11-28T10:57:19.123Z INFO  health my-service: starting -> healthy (exit 0, 12 ms)`.
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
      sink(JSON.stringify({ time, level, component, msg, ...fields }));
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${component} ${msg}`;
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${fieldText(v)}`;
    sink(line);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (c) => createLogger({ ...opts, format, sink, now }, c),
  };
}

/** A logger that keeps its lines in memory (tests read `lines`). */
export function memoryLogger(level: LogLevel = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level, sink: (l) => lines.push(l) });
  return Object.assign(log, { lines });
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ sink: () => {} });
